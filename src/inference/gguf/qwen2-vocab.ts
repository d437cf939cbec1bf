import { execFile } from "node:child_process";
import { access, mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { AppError } from "../../shared/index.js";
import type { GgufMetadataValue } from "./gguf-format.js";
import { readGgufHeader } from "./gguf-reader.js";

const execFileAsync = promisify(execFile);

/** Path of the vocabulary inside node-llama-cpp's llama.cpp git bundle. */
const vocabPathInBundle = "models/ggml-vocab-qwen2.gguf";

/** Tokens in Qwen2's vocabulary (including its padding tokens). */
export const qwen2VocabSize = 151_936;

export interface Qwen2VocabOptions {
  /**
   * Folder for the extracted vocabulary file (about 6 MiB).
   * Default: `sarai-gguf-cache` in the OS temp folder (see {@link resolveDefaultGgufCacheDir}).
   */
  cacheDir?: string;
}

/** The default cache folder for extracted vocabularies and cached synthetic models: `<os tmpdir>/sarai-gguf-cache`. */
export function resolveDefaultGgufCacheDir(): string {
  return path.join(os.tmpdir(), "sarai-gguf-cache");
}

/**
 * Returns the path of `ggml-vocab-qwen2.gguf` (Qwen2's tokenizer, no weights), extracting it once from
 * the llama.cpp git bundle that ships inside node-llama-cpp. Extraction needs the `git` command and
 * takes about 2 s; later calls only check that the file exists. Safe to call from parallel processes
 * (each writes a temporary file and renames it into place).
 */
export async function resolveQwen2VocabPath(options: Qwen2VocabOptions = {}): Promise<string> {
  const cacheDir = options.cacheDir ?? resolveDefaultGgufCacheDir();
  const { bundlePath, version } = await findLlamaCppBundle();
  const vocabPath = path.join(cacheDir, `ggml-vocab-qwen2-node-llama-cpp-${version}.gguf`);
  if (await isReadable(vocabPath)) return vocabPath;

  await mkdir(cacheDir, { recursive: true });
  const workDir = await mkdtemp(path.join(cacheDir, "extract-"));
  try {
    const gitDir = path.join(workDir, "llama.cpp.git");
    await execFileAsync("git", ["clone", "--quiet", "--bare", bundlePath, gitDir]);
    const { stdout } = await execFileAsync(
      "git",
      ["--git-dir", gitDir, "cat-file", "blob", `HEAD:${vocabPathInBundle}`],
      {
        encoding: "buffer",
        maxBuffer: 256 << 20,
      },
    );
    const tempPath = path.join(workDir, "vocab.gguf");
    await writeFile(tempPath, stdout);
    await rename(tempPath, vocabPath);
    return vocabPath;
  } catch (error) {
    throw new AppError(
      "INTERNAL",
      `could not extract ${vocabPathInBundle} from ${bundlePath} with git: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error, param: bundlePath },
    );
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

const tokenizerMetadataCache = new Map<string, Promise<Array<[string, GgufMetadataValue]>>>();

/**
 * The `tokenizer.*` metadata of Qwen2's vocabulary (151,936 tokens, 151,387 merges, ChatML template),
 * with the original GGUF types, ready to copy into a synthetic model. Cached per process.
 * Caveat: a model with this vocabulary loads about 1.4 s slower and its output head dominates compute.
 */
export function loadQwen2TokenizerMetadata(
  options: Qwen2VocabOptions = {},
): Promise<Array<[string, GgufMetadataValue]>> {
  const cacheKey = options.cacheDir ?? resolveDefaultGgufCacheDir();
  let loading = tokenizerMetadataCache.get(cacheKey);
  if (loading === undefined) {
    loading = (async () => {
      const header = await readGgufHeader(await resolveQwen2VocabPath(options));
      return [...header.metadata].filter(([key]) => key.startsWith("tokenizer."));
    })();
    tokenizerMetadataCache.set(cacheKey, loading);
    loading.catch(() => tokenizerMetadataCache.delete(cacheKey));
  }
  return loading;
}

async function findLlamaCppBundle(): Promise<{ bundlePath: string; version: string }> {
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve("node-llama-cpp");
  } catch (error) {
    throw new AppError(
      "MODEL_NOT_FOUND",
      "node-llama-cpp is not installed; its llama.cpp bundle holds the vocabulary",
      {
        cause: error,
      },
    );
  }
  for (let dir = path.dirname(entry); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const packageJson = await readFile(path.join(dir, "package.json"), "utf8").catch(() => undefined);
    if (packageJson === undefined) continue;
    const { name, version } = JSON.parse(packageJson) as { name?: string; version?: string };
    if (name !== "node-llama-cpp") continue;
    const bundlePath = path.join(dir, "llama", "gitRelease.bundle");
    if (!(await isReadable(bundlePath))) break;
    return { bundlePath, version: version ?? "unknown" };
  }
  throw new AppError("MODEL_NOT_FOUND", "node-llama-cpp's llama/gitRelease.bundle was not found", {
    param: "node-llama-cpp",
  });
}

async function isReadable(filePath: string): Promise<boolean> {
  try {
    await access(filePath);
    return true;
  } catch {
    return false;
  }
}
