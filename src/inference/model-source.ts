import path from "node:path";
import { fileURLToPath } from "node:url";

import { AppError } from "../shared/index.js";
import { findModelAlias, modelAliases } from "./model-aliases.js";

/** An `hf:` source: one file in a Hugging Face repository. */
export interface HfModelSource {
  readonly kind: "hf";
  /** What the user typed. */
  readonly input: string;
  readonly user: string;
  readonly repo: string;
  /** The file's path inside the repository, `/`-separated, ending in `.gguf`. */
  readonly file: string;
  /** Default: `main`. */
  readonly branch: string;
  /** The canonical URI, as node-llama-cpp writes it: `hf:<user>/<repo>/<file>[#<branch>]`. */
  readonly uri: string;
}

/** A catalogue alias, already resolved to its `hf:` source. */
export interface AliasModelSource {
  readonly kind: "alias";
  readonly input: string;
  readonly alias: string;
  readonly target: HfModelSource;
}

/** A direct download URL. */
export interface UrlModelSource {
  readonly kind: "url";
  readonly input: string;
  readonly url: string;
}

/** A file already on disk. */
export interface FileModelSource {
  readonly kind: "file";
  readonly input: string;
  /** The path as given; see {@link resolveModelSourcePath} for how relative paths resolve. */
  readonly path: string;
}

/** Where a model comes from. */
export type ModelSource = AliasModelSource | HfModelSource | UrlModelSource | FileModelSource;

/** The result of {@link safeParseModelSource}. */
export type ModelSourceParseResult =
  | { readonly success: true; readonly source: ModelSource }
  | { readonly success: false; readonly error: AppError };

const defaultBranch = "main";
const hfPrefixes = ["hf://", "huggingface://", "hf:", "huggingface:"];
const hfNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const loopbackHosts = new Set(["localhost", "127.0.0.1", "[::1]"]);
const huggingFaceHosts = new Set(["huggingface.co", "hf.co"]);
/** ipull, node-llama-cpp's downloader, cuts longer file names (filenamify's limit). */
const maxFileNameLength = 100;
const splitPartPattern = /-(\d{5})-of-(\d{5})\.gguf$/i;

/**
 * Parses what a user typed as a model source, in this order: an `hf:` URI (`hf:<user>/<repo>/<file>.gguf`,
 * optionally `#<branch>`), an `https://` URL (Hugging Face `resolve`/`blob` URLs become `hf:` sources), a
 * `file://` URL, a catalogue alias, or a file path (anything with a directory part or a `.gguf` ending).
 *
 * Caveats: `http://` is refused except for loopback hosts (local mirrors and tests); node-llama-cpp's
 * `hf:<user>/<repo>:<quant>` form is refused because resolving it needs the network.
 */
export function safeParseModelSource(input: string): ModelSourceParseResult {
  try {
    return { success: true, source: parseModelSourceOrThrow(input) };
  } catch (error) {
    if (error instanceof AppError) return { success: false, error };
    throw error;
  }
}

/**
 * Like {@link safeParseModelSource}, but throws the `MODEL_SOURCE_INVALID` {@link AppError} instead of
 * returning it.
 */
export function parseModelSource(input: string): ModelSource {
  return parseModelSourceOrThrow(input);
}

function parseModelSourceOrThrow(rawInput: string): ModelSource {
  const input = rawInput.trim();
  if (input === "") throw invalidSource(rawInput, "the model source is empty");

  const hfPrefix = hfPrefixes.find((prefix) => input.toLowerCase().startsWith(prefix));
  if (hfPrefix !== undefined) return parseHfUri(input, input.slice(hfPrefix.length));

  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) return parseUrl(input);

  const alias = findModelAlias(input);
  if (alias !== undefined) {
    const target = parseModelSourceOrThrow(alias.uri);
    if (target.kind !== "hf") throw new Error(`alias ${alias.name} must have an hf: URI`);
    return { kind: "alias", input, alias: alias.name, target };
  }

  if (hasDirectoryPart(input) || input.toLowerCase().endsWith(".gguf")) {
    return { kind: "file", input, path: input };
  }

  const known = modelAliases.map((entry) => entry.name).join(", ");
  throw invalidSource(
    input,
    `"${input}" is not a known model alias (${known}), an hf:<user>/<repo>/<file>.gguf URI, ` +
      "an https:// URL or a path to a .gguf file",
  );
}

function parseHfUri(input: string, rest: string): HfModelSource {
  const syntax = "hf:<user>/<repo>/<file>.gguf or hf:<user>/<repo>/<file>.gguf#<branch>";
  const hashIndex = rest.indexOf("#");
  const pathPart = hashIndex < 0 ? rest : rest.slice(0, hashIndex);
  const branch = hashIndex < 0 ? defaultBranch : rest.slice(hashIndex + 1) || defaultBranch;
  const [user = "", repo = "", ...fileParts] = pathPart.split("/");

  if (fileParts.length === 0) {
    const hint = repo.includes(":")
      ? "; the hf:<user>/<repo>:<quant> form needs the network to find the file name and is not supported"
      : "";
    throw invalidSource(input, `"${input}" must name a file: ${syntax}${hint}`);
  }
  if (!hfNamePattern.test(user) || !hfNamePattern.test(repo)) {
    throw invalidSource(input, `"${input}" has an invalid user or repository name; expected ${syntax}`);
  }
  if (fileParts.some((part) => part === "" || part === "." || part === "..")) {
    throw invalidSource(input, `"${input}" has an empty, "." or ".." path segment; expected ${syntax}`);
  }
  const file = fileParts.join("/");
  if (!file.toLowerCase().endsWith(".gguf")) {
    throw invalidSource(input, `"${input}" does not name a .gguf file; expected ${syntax}`);
  }
  if (/[\s#?]/.test(branch)) {
    throw invalidSource(input, `"${input}" has an invalid branch name "${branch}"`);
  }
  const uri = `hf:${user}/${repo}/${file}${branch === defaultBranch ? "" : `#${branch}`}`;
  return { kind: "hf", input, user, repo, file, branch, uri };
}

function parseUrl(input: string): ModelSource {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw invalidSource(input, `"${input}" is not a valid URL`);
  }
  if (url.protocol === "file:") return { kind: "file", input, path: fileURLToPath(url) };
  if (url.protocol === "http:" && !loopbackHosts.has(url.hostname)) {
    throw invalidSource(input, `"${input}" uses http://, which is refused: use https://`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw invalidSource(input, `"${input}" uses ${url.protocol}//; only https:// URLs can be downloaded`);
  }
  if (url.username !== "" || url.password !== "") {
    throw invalidSource(input, "a model URL must not contain a user name or password; pass headers instead");
  }

  let segments: string[];
  try {
    segments = url.pathname.split("/").map((segment) => decodeURIComponent(segment));
  } catch {
    throw invalidSource(input, `"${input}" has a malformed %-escape in its path`);
  }
  if (url.protocol === "https:" && huggingFaceHosts.has(url.hostname)) {
    // https://huggingface.co/<user>/<repo>/(resolve|blob)/<branch>/<file…>
    const [, user, repo, action, branch, ...fileParts] = segments;
    if (
      user !== undefined &&
      repo !== undefined &&
      branch !== undefined &&
      (action === "resolve" || action === "blob") &&
      fileParts.length > 0
    ) {
      const branchSuffix = branch === defaultBranch ? "" : `#${branch}`;
      return parseHfUri(input, `${user}/${repo}/${fileParts.join("/")}${branchSuffix}`);
    }
  }

  const fileName = segments.at(-1) ?? "";
  if (!fileName.toLowerCase().endsWith(".gguf")) {
    throw invalidSource(input, `"${input}" does not point to a .gguf file (its path must end in .gguf)`);
  }
  return { kind: "url", input, url: url.href };
}

/**
 * The path a source's model file has (or will have, once pulled) inside `modelsDir`. For split models this is
 * the first part's path, which is what llama.cpp loads.
 *
 * - alias / `hf:`: node-llama-cpp's naming, e.g. `hf_Qwen_qwen2.5-1.5b-instruct-q4_k_m.gguf`, so files pulled
 *   with `npx node-llama-cpp pull` are found too.
 * - URL: the URL's last path segment.
 * - file: absolute paths as they are; a bare file name (`model.gguf`) inside `modelsDir`; other relative paths
 *   (`./model.gguf`, `models/x.gguf`) against the current directory.
 */
export function resolveModelSourcePath(source: ModelSource, modelsDir: string): string {
  switch (source.kind) {
    case "file":
      if (path.isAbsolute(source.path)) return path.normalize(source.path);
      return hasDirectoryPart(source.path) ? path.resolve(source.path) : path.resolve(modelsDir, source.path);
    case "alias":
      return path.resolve(modelsDir, resolveHfFileName(source.target));
    case "hf":
      return path.resolve(modelsDir, resolveHfFileName(source));
    case "url":
      return path.resolve(modelsDir, resolveUrlFileName(source));
  }
}

/**
 * The paths of every file a source downloads: one for most models, all parts in order for split GGUF files
 * (`…-00001-of-00003.gguf`).
 */
export function resolveModelSourcePaths(source: ModelSource, modelsDir: string): string[] {
  const first = resolveModelSourcePath(source, modelsDir);
  if (source.kind === "file") return [first];
  const match = splitPartPattern.exec(first);
  if (match === null || match[1] !== "00001") return [first];
  const parts = Number(match[2]);
  const base = first.slice(0, match.index);
  return Array.from(
    { length: parts },
    (_, index) => `${base}-${String(index + 1).padStart(5, "0")}-of-${match[2]}.gguf`,
  );
}

function resolveUrlFileName(source: UrlModelSource): string {
  const url = new URL(source.url);
  return shortenFileName(sanitizeFileName(decodeURIComponent(url.pathname.split("/").at(-1) ?? "")));
}

/** Mirrors node-llama-cpp's `buildHuggingFaceFilePrefix` (dist/utils/parseModelUri.js) for resolved hf: URIs. */
function resolveHfFileName(source: HfModelSource): string {
  const fileParts = source.file.split("/");
  const fileName = sanitizeFileName(fileParts.at(-1) ?? "");
  let folders = fileParts.slice(0, -1);
  const prefix = ["hf", sanitizeFileName(source.user)];
  if (!doesFileNameMatchRepo(fileName, source.repo) || source.branch !== defaultBranch) {
    prefix.push(sanitizeFileName(source.repo));
  }
  if (source.branch !== defaultBranch) prefix.push(sanitizeFileName(source.branch));
  if (folders.length > 0 && doesFileNameMatchFolder(fileName, folders.at(-1) ?? "")) {
    folders = folders.slice(0, -1);
  }
  if (folders.length > 0) prefix.push(sanitizeFileName(folders.join("__")));
  return shortenFileName(`${prefix.join("_")}_${fileName}`);
}

function stripGgufSuffix(fileName: string): string {
  const match = splitPartPattern.exec(fileName);
  return match !== null ? fileName.slice(0, match.index) : fileName.slice(0, -".gguf".length);
}

function doesFileNameMatchRepo(fileName: string, repo: string): boolean {
  if (!repo.toLowerCase().endsWith("-gguf") || !fileName.toLowerCase().endsWith(".gguf")) return false;
  const repoBase = repo.slice(0, -"-gguf".length).toLowerCase();
  return fileName.slice(0, -".gguf".length).toLowerCase().startsWith(repoBase);
}

function doesFileNameMatchFolder(fileName: string, folder: string): boolean {
  if (!fileName.toLowerCase().endsWith(".gguf")) return false;
  const lowerFolder = folder.toLowerCase();
  return (
    fileName.slice(0, -".gguf".length).toLowerCase() === lowerFolder ||
    stripGgufSuffix(fileName).toLowerCase() === lowerFolder
  );
}

/**
 * Replaces the characters file systems reserve, the way node-llama-cpp's `filenamify` does, so that the name we
 * compute is the name the downloader writes.
 */
function sanitizeFileName(name: string): string {
  return (
    name
      .normalize("NFD")
      // eslint-disable-next-line no-control-regex
      .replace(/([<>:"/\\|?*\u0000-\u001F]){2,}/g, "$1")
      .replace(/^\.+(\\|\/)|^\.+$/, "!")
      // eslint-disable-next-line no-control-regex
      .replace(/[<>:"/\\|?*\u0000-\u001F\u0080-\u009F]/g, "!")
      .replace(/\.+$/, "")
  );
}

/** Keeps names within the downloader's limit, keeping the `.gguf` and split-part suffix intact. */
function shortenFileName(name: string): string {
  if (name.length <= maxFileNameLength) return name;
  const match = splitPartPattern.exec(name);
  const suffix = match !== null ? name.slice(match.index) : ".gguf";
  return name.slice(0, maxFileNameLength - suffix.length) + suffix;
}

function hasDirectoryPart(input: string): boolean {
  return input.includes("/") || input.includes("\\") || input === "." || input === "..";
}

function invalidSource(input: string, message: string): AppError {
  return new AppError("MODEL_SOURCE_INVALID", message, { param: input });
}
