import { access } from "node:fs/promises";
import path from "node:path";
import { AppError, createSilentLogger, isAppError, type Logger } from "../shared/index.js";
import { ensureSynthesizedModel, type SynthOptions } from "./gguf/index.js";
import type { RoleModelOptions } from "./model-pool.js";
import { pullModel, type PullProgress } from "./model-pull.js";
import { parseModelSource, resolveModelSourcePath, type ModelSource } from "./model-source.js";
import { modelRoles, type ModelRole } from "./types.js";

export interface RoleSourceConfig {
  /** Absent for roles served by a remote server; those are skipped here. */
  source?: string | undefined;
  contextSize?: number | undefined;
  sequences?: number | undefined;
}

export interface ResolveModelsOptions {
  roles: Partial<Record<ModelRole, RoleSourceConfig>>;
  /** Source for `main` when no main model is configured. */
  defaultSource: string;
  modelsDir: string;
  /** Where the demo model is generated. */
  cacheDir: string;
  /** Download models that are not on disk yet. */
  autoPull: boolean;
  /** A Hugging Face mirror for `hf:` sources and aliases. */
  huggingFaceEndpoint?: string | undefined;
  signal: AbortSignal;
  onPullProgress?: (progress: PullProgress) => void;
  /** Human-readable notices (pull started, falling back to the demo model). */
  onNotice?: (message: string) => void;
  logger?: Logger;
}

export interface ResolvedModels {
  roles: Partial<Record<ModelRole, RoleModelOptions>>;
  /** True when `main` is the generated demo model. */
  demoModel: boolean;
  /** Reasons the assistant runs below its configured quality. */
  degraded: string[];
}

/** The demo model: random weights, generated locally so that everything around the model still works. */
export const demoModelOptions: Readonly<Omit<SynthOptions, "outPath">> = Object.freeze({
  name: "sarai-demo",
  layers: 2,
  width: 128,
  ffn: 512,
  heads: 4,
  kvHeads: 2,
  quantization: "Q8_0",
  seed: 2026,
  tokenizer: "byte",
});

export const demoModelBanner = "demo model: random weights, answers are noise";

/**
 * Turns configured model sources into files on disk: file paths stay as they are; aliases, `hf:` URIs and
 * URLs map to their file in the models directory and are pulled when missing (if allowed). When no main
 * model is configured and the default one cannot be had (offline, or pulls disabled), `main` becomes a
 * generated demo model and the result says so.
 */
export async function resolveModels(options: ResolveModelsOptions): Promise<ResolvedModels> {
  const logger = options.logger ?? createSilentLogger();
  const roles: Partial<Record<ModelRole, RoleModelOptions>> = {};
  const degraded: string[] = [];
  let demoModel = false;

  for (const role of modelRoles) {
    const configured = options.roles[role];
    if (configured?.source === undefined) continue;
    const file = await resolveSourceFile(configured.source, `models.${role}`, options);
    roles[role] = { file, contextSize: configured.contextSize, sequences: configured.sequences };
  }

  if (roles.main === undefined && options.roles.main === undefined) {
    try {
      roles.main = { file: await resolveSourceFile(options.defaultSource, "models.default", options) };
    } catch (error) {
      if (!canFallBackToDemo(error)) throw error;
      const reason = isAppError(error) ? error.message : String(error);
      options.onNotice?.(`could not get the default model (${options.defaultSource}): ${reason}`);
      const file = await ensureSynthesizedModel({
        ...demoModelOptions,
        cacheDir: path.join(options.cacheDir, "demo"),
      });
      options.onNotice?.(`running on a generated ${demoModelBanner}`);
      logger.warn({ file, reason }, "running on the demo model");
      roles.main = { file };
      demoModel = true;
      degraded.push(demoModelBanner);
    }
  }
  return { roles, demoModel, degraded };
}

async function resolveSourceFile(
  input: string,
  param: string,
  options: ResolveModelsOptions,
): Promise<string> {
  let source: ModelSource;
  try {
    source = parseModelSource(input);
  } catch (error) {
    if (isAppError(error))
      throw new AppError(error.code, `${param}: ${error.message}`, { cause: error, param });
    throw error;
  }
  const file = resolveModelSourcePath(source, options.modelsDir);
  // A file source is checked (missing, truncated, not GGUF) when it is loaded, with a message naming it.
  if (source.kind === "file" || (await exists(file))) return file;
  if (!options.autoPull) {
    throw new AppError(
      "MODEL_NOT_FOUND",
      `${param}: ${input} is not downloaded yet (${file}); run \`sarai model pull ${input}\``,
      { param },
    );
  }
  options.onNotice?.(`downloading ${input} into ${options.modelsDir}`);
  const pulled = await pullModel({
    source,
    modelsDir: options.modelsDir,
    signal: options.signal,
    ...(options.huggingFaceEndpoint === undefined
      ? {}
      : { huggingFaceEndpoint: options.huggingFaceEndpoint }),
    ...(options.onPullProgress === undefined ? {} : { onProgress: options.onPullProgress }),
  });
  return pulled.path;
}

function canFallBackToDemo(error: unknown): boolean {
  return isAppError(error) && ["DOWNLOAD_OFFLINE", "DOWNLOAD_FAILED", "MODEL_NOT_FOUND"].includes(error.code);
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}
