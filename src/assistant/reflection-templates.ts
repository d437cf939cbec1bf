import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { AppError } from "../shared/index.js";

/** The reflection prompts: `critique` asks for a revision, `assess` for a graded self-assessment. */
export const reflectionTemplateNames = ["critique", "assess"] as const;

export type ReflectionTemplateName = (typeof reflectionTemplateNames)[number];

/** One prompt template, with the SHA-256 of its exact bytes (recorded with every turn that used it). */
export interface ReflectionTemplate {
  name: ReflectionTemplateName;
  file: string;
  text: string;
  sha256: string;
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
    const text = bytes.toString("utf8");
    const missing = placeholders[name].filter((key) => !text.includes(`{{${key}}}`));
    if (missing.length > 0) {
      throw new AppError(
        "CONFIG_INVALID",
        `${file}: the ${name} template needs ${missing.map((key) => `{{${key}}}`).join(", ")}`,
        { param: "reflect.templatesDir" },
      );
    }
    return { name, file, text, sha256: createHash("sha256").update(bytes).digest("hex") };
  };
  return { critique: load("critique"), assess: load("assess") };
}

/** Fills `{{key}}` placeholders in one pass, so that a value containing `{{…}}` is never expanded again. */
export function renderTemplate(
  template: ReflectionTemplate,
  values: Readonly<Record<string, string>>,
): string {
  return template.text.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => values[key] ?? whole);
}
