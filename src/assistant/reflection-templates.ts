import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readFile } from "node:fs/promises";
import type { TemplateTrust, TemplateVerifier } from "../security/index.js";
import { AppError } from "../shared/index.js";
import { builtinReflectionTexts } from "./builtin-templates.js";

/** The reflection prompts: `critique` asks for a revision, `assess` for a graded self-assessment. */
export const reflectionTemplateNames = ["critique", "assess"] as const;

export type ReflectionTemplateName = (typeof reflectionTemplateNames)[number];

/** One prompt template, with the SHA-256 of its exact bytes (recorded with every turn that used it). */
export interface ReflectionTemplate {
  name: ReflectionTemplateName;
  /** The file it was read from; for the compiled-in template, the file it replaced. */
  file: string;
  text: string;
  sha256: string;
  /**
   * Why it can be trusted: `builtin` (the compiled-in text, or a file identical to it), `verified` (its signature
   * by the trusted key verified), `unsigned` (used before any key exists), `unchecked` (signatures off).
   */
  trust?: TemplateTrust | "builtin";
  /** Set when the file was refused (the compiled-in template answers) or used unverified: why, in one line. */
  warning?: string;
}

export type ReflectionTemplates = Readonly<Record<ReflectionTemplateName, ReflectionTemplate>>;

/** `templates/reflection/` at the package root: the same path from `src/assistant/` and `dist/assistant/`. */
export const builtinTemplatesDir = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "templates",
  "reflection",
);

const placeholders: Record<ReflectionTemplateName, readonly string[]> = {
  critique: ["question", "answer", "issues"],
  assess: ["question", "answer"],
};

/**
 * Reads `critique.md` and `assess.md` from `dir` (default: the built-in ones). A missing file or a template
 * without the placeholders it needs is a `CONFIG_INVALID` error naming the file, at startup rather than in a turn.
 */
export function loadReflectionTemplates(dir: string = builtinTemplatesDir): ReflectionTemplates {
  const load = (name: ReflectionTemplateName): ReflectionTemplate => {
    const file = path.join(dir, `${name}.md`);
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (error) {
      throw new AppError(
        "CONFIG_INVALID",
        `reflect.templatesDir: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        { param: "reflect.templatesDir", cause: error },
      );
    }
    checkPlaceholders(name, file, bytes.toString("utf8"));
    return toTemplate(name, file, bytes);
  };
  return { critique: load("critique"), assess: load("assess") };
}

/** `critique.md` and `assess.md` in `dir` (default: the shipped folder): the files `sarai keys sign` signs. */
export function reflectionTemplateFiles(dir: string = builtinTemplatesDir): string[] {
  return reflectionTemplateNames.map((name) => path.join(dir, `${name}.md`));
}

/**
 * Reads the reflection templates from `dir` (default: the shipped folder) and lets `verifier` decide on each. A
 * file it refuses (a signature that does not verify, or none once a key exists) is not used: the compiled-in
 * template is, with the reason in `warning`. A file whose bytes are the compiled-in template needs no
 * signature. A missing file or missing placeholders in a used file is `CONFIG_INVALID`, as with
 * `loadReflectionTemplates`.
 */
export async function loadVerifiedReflectionTemplates(
  dir: string | undefined,
  verifier: TemplateVerifier,
): Promise<ReflectionTemplates> {
  const folder = dir ?? builtinTemplatesDir;
  const load = async (name: ReflectionTemplateName): Promise<ReflectionTemplate> => {
    const file = path.join(folder, `${name}.md`);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (error) {
      throw new AppError(
        "CONFIG_INVALID",
        `reflect.templatesDir: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        { param: "reflect.templatesDir", cause: error },
      );
    }
    const builtin = builtinReflectionTexts[name];
    if (bytes.equals(Buffer.from(builtin, "utf8")))
      return { ...toTemplate(name, file, bytes), trust: "builtin" };
    const check = await verifier.check(file, bytes);
    if (!check.use) {
      return {
        ...toTemplate(name, file, Buffer.from(builtin, "utf8")),
        trust: "builtin",
        warning: `reflection template ${file} not used: ${check.reason}; the built-in ${name} template was used instead`,
      };
    }
    checkPlaceholders(name, file, bytes.toString("utf8"));
    return {
      ...toTemplate(name, file, bytes),
      trust: check.trust,
      ...(check.warning === undefined ? {} : { warning: `reflection template ${file} ${check.warning}` }),
    };
  };
  return { critique: await load("critique"), assess: await load("assess") };
}

/** The warnings of templates that were refused or used unverified, for the turns that use them. */
export function templateWarnings(templates: ReflectionTemplates): string[] {
  return reflectionTemplateNames.flatMap((name) => {
    const warning = templates[name].warning;
    return warning === undefined ? [] : [warning];
  });
}

function toTemplate(name: ReflectionTemplateName, file: string, bytes: Buffer): ReflectionTemplate {
  const text = bytes.toString("utf8");
  return { name, file, text, sha256: createHash("sha256").update(bytes).digest("hex") };
}

function checkPlaceholders(name: ReflectionTemplateName, file: string, text: string): void {
  const missing = placeholders[name].filter((key) => !text.includes(`{{${key}}}`));
  if (missing.length > 0) {
    throw new AppError(
      "CONFIG_INVALID",
      `${file}: the ${name} template needs ${missing.map((key) => `{{${key}}}`).join(", ")}`,
      { param: "reflect.templatesDir" },
    );
  }
}

/** Fills `{{key}}` placeholders in one pass, so that a value containing `{{…}}` is never expanded again. */
export function renderTemplate(
  template: ReflectionTemplate,
  values: Readonly<Record<string, string>>,
): string {
  return template.text.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => values[key] ?? whole);
}
