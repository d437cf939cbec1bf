import dns from "node:dns/promises";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";

import { createModelDownloader } from "node-llama-cpp";
import type { ModelDownloader } from "node-llama-cpp";

import { AbortedError, AppError } from "../shared/index.js";
import { parseModelSource, resolveModelSourcePaths } from "./model-source.js";
import type { ModelSource } from "./model-source.js";

/** Download progress, as reported to {@link PullModelOptions.onProgress}. */
export interface PullProgress {
  /** Bytes on disk so far, including what an earlier, interrupted pull left. */
  readonly downloadedBytes: number;
  /** All bytes to download; 0 while unknown (a server that sends no length). */
  readonly totalBytes: number;
}

/** What {@link pullModel} downloads, where to, and how patiently. */
export interface PullModelOptions {
  /** An alias, `hf:` URI, URL or path, or an already parsed source. */
  readonly source: ModelSource | string;
  /** The directory the model file is saved in; created if missing. */
  readonly modelsDir: string;
  /** Aborting stops the download and keeps the partial file, so the next pull resumes it. */
  readonly signal: AbortSignal;
  /** Called often (many times a second); throttle any rendering. */
  readonly onProgress?: (progress: PullProgress) => void;
  /**
   * How long the host may take to answer before the pull fails with `DOWNLOAD_OFFLINE`: the DNS lookup and the
   * TCP/TLS connect together. In milliseconds; default 5000.
   */
  readonly timeoutMs?: number;
  /**
   * How long a running download may go without receiving a byte before it fails with `DOWNLOAD_FAILED` (the
   * partial file is kept). In milliseconds; default 60000. Without it, the downloader retries for about 12 minutes.
   */
  readonly stallTimeoutMs?: number;
  /** Extra request headers, e.g. `Authorization` for a gated repository. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Where `hf:` URIs are fetched from, e.g. a mirror. Default `https://huggingface.co/`. Like model URLs, it must
   * be `https://`, or `http://` on a loopback host (local mirrors, tests).
   */
  readonly huggingFaceEndpoint?: string;
}

/** Where a pulled model is, and what the pull did. */
export interface PullResult {
  /** The model file to load; for split models, the first part. */
  readonly path: string;
  /** Bytes on disk, all parts together. */
  readonly sizeBytes: number;
  /** Whether this pull continued a partial download left by an earlier one. */
  readonly resumed: boolean;
  /** Whether the file was already there, so nothing was downloaded (and the network was not used). */
  readonly alreadyPresent: boolean;
}

const defaultHuggingFaceEndpoint = "https://huggingface.co/";
const defaultTimeoutMs = 5_000;
const defaultStallTimeoutMs = 60_000;
const cancelGraceMs = 5_000;
const restoreChecks = 4;
const restoreCheckIntervalMs = 100;
/** node-llama-cpp's downloader (ipull) keeps an unfinished download in `<file>.ipull`, with its progress appended. */
const partialFileSuffix = ".ipull";

/**
 * Downloads a model into `modelsDir` with node-llama-cpp's downloader, unless it is already there.
 *
 * - A file that is present (every part, for split models) is returned as it is, without using the network.
 * - Before downloading, the host is checked with a DNS lookup and a TCP (and TLS) connect bounded by
 *   `timeoutMs`: without a network the pull fails within seconds with `DOWNLOAD_OFFLINE`, where the downloader
 *   alone would retry for minutes.
 * - An interrupted download (abort, crash, stall, lost connection) leaves `<file>.ipull`; the next pull resumes
 *   it with HTTP range requests, in 5 MiB chunks.
 * - A `file` source is not downloaded: it must exist (`MODEL_NOT_FOUND` otherwise).
 *
 * Throws `MODEL_SOURCE_INVALID`, `MODEL_NOT_FOUND`, `DOWNLOAD_OFFLINE`, `DOWNLOAD_FAILED` (naming the URL for
 * HTTP errors) or `ABORTED` ({@link AbortedError}).
 */
export async function pullModel(options: PullModelOptions): Promise<PullResult> {
  const { modelsDir, signal } = options;
  const parsed = typeof options.source === "string" ? parseModelSource(options.source) : options.source;
  const source = parsed.kind === "alias" ? parsed.target : parsed;
  const paths = resolveModelSourcePaths(source, modelsDir);
  const targetPath = paths[0] ?? "";

  const presentSize = await sumFileSizes(paths);
  if (presentSize !== undefined) {
    return { path: targetPath, sizeBytes: presentSize, resumed: false, alreadyPresent: true };
  }
  if (source.kind === "file") {
    throw new AppError("MODEL_NOT_FOUND", `No model file at "${targetPath}"`, { param: targetPath });
  }
  throwIfAborted(signal, targetPath);

  const huggingFaceEndpoint = resolveHuggingFaceEndpoint(options.huggingFaceEndpoint);
  const hostUrl = new URL(source.kind === "hf" ? huggingFaceEndpoint : source.url);
  await checkHostReachable(hostUrl, options.timeoutMs ?? defaultTimeoutMs, signal, targetPath);

  await fs.mkdir(modelsDir, { recursive: true });
  const download = new DownloadAttempt({
    signal,
    stallTimeoutMs: options.stallTimeoutMs ?? defaultStallTimeoutMs,
    host: hostUrl.host,
    targetPath,
  });
  let downloader: ModelDownloader | undefined;
  try {
    downloader = await download.run(
      createModelDownloader({
        modelUri: source.kind === "hf" ? source.uri : source.url,
        dirPath: modelsDir,
        fileName: path.basename(targetPath),
        headers: options.headers === undefined ? undefined : { ...options.headers },
        endpoints: { huggingFace: huggingFaceEndpoint },
        showCliProgress: false,
        skipExisting: true,
        deleteTempFileOnCancel: false,
        onProgress: ({ downloadedSize, totalSize }) => {
          download.touch(downloadedSize);
          options.onProgress?.({ downloadedBytes: downloadedSize, totalBytes: totalSize });
        },
      }),
      { onLate: (late) => void late.cancel({ deleteTempFile: false }).catch(() => undefined) },
    );
    // The downloader loads the progress an earlier pull saved in the .ipull file.
    const resumed = downloader.downloadedSize > 0;
    download.touch(downloader.downloadedSize);
    // After an abort, give the downloader a moment to close its files cleanly, so a rerun can resume at once.
    await download.run(downloader.download({ signal: download.signal }), { graceMs: cancelGraceMs });

    const sizeBytes = await sumFileSizes(paths);
    if (sizeBytes === undefined || (downloader.totalSize > 0 && sizeBytes !== downloader.totalSize)) {
      throw new AppError(
        "DOWNLOAD_FAILED",
        `The download of "${targetPath}" ended with ${sizeBytes ?? 0} of ${downloader.totalSize} bytes on disk; pull again`,
        { param: targetPath },
      );
    }
    return { path: downloader.entrypointFilePath, sizeBytes, resumed, alreadyPresent: false };
  } catch (error) {
    if (downloader !== undefined) await restorePartialDownloads(downloader);
    throw download.describeFailure(error);
  } finally {
    download.dispose();
  }
}

function resolveHuggingFaceEndpoint(endpoint: string | undefined): string {
  if (endpoint === undefined) return defaultHuggingFaceEndpoint;
  let url: URL | undefined;
  try {
    url = new URL(endpoint);
  } catch {
    url = undefined;
  }
  const loopback = url !== undefined && ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
  if (url === undefined || !(url.protocol === "https:" || (url.protocol === "http:" && loopback))) {
    throw new AppError(
      "MODEL_SOURCE_INVALID",
      `The Hugging Face endpoint "${endpoint}" must be an https:// URL (http:// only on a loopback host)`,
      { param: "huggingFaceEndpoint" },
    );
  }
  return url.href.endsWith("/") ? url.href : `${url.href}/`;
}

/**
 * One download's abort and stall handling. The downloader's own retries (150, backing off to 5 s) cannot be
 * configured through node-llama-cpp, so a watchdog cancels it when no byte arrives for `stallTimeoutMs`.
 */
class DownloadAttempt {
  readonly #controller = new AbortController();
  readonly #userSignal: AbortSignal;
  readonly #stallTimeoutMs: number;
  readonly #host: string;
  readonly #targetPath: string;
  #stallTimer: NodeJS.Timeout | undefined;
  #mostBytes = -1;
  #stalled = false;
  readonly #onUserAbort = () => this.#controller.abort(this.#userSignal.reason);

  constructor(options: { signal: AbortSignal; stallTimeoutMs: number; host: string; targetPath: string }) {
    this.#userSignal = options.signal;
    this.#stallTimeoutMs = options.stallTimeoutMs;
    this.#host = options.host;
    this.#targetPath = options.targetPath;
    this.#userSignal.addEventListener("abort", this.#onUserAbort, { once: true });
    this.#armStallTimer();
  }

  /** Fires when the caller aborts or the download stalls. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Reports progress; only new bytes count as progress. */
  touch(downloadedBytes: number): void {
    if (downloadedBytes <= this.#mostBytes) return;
    this.#mostBytes = downloadedBytes;
    this.#armStallTimer();
  }

  /**
   * Waits for `work`, or until `graceMs` after the attempt is aborted. Work that finishes after that is handed to
   * `onLate`: node-llama-cpp cannot cancel a downloader while it is being created, and a cancelled download may
   * hang in a request that never got an answer.
   */
  async run<T>(
    work: Promise<T>,
    { graceMs = 0, onLate }: { graceMs?: number; onLate?: (late: T) => void } = {},
  ): Promise<T> {
    const signal = this.#controller.signal;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        timer = setTimeout(() => reject(signal.reason as Error), graceMs);
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
    let settled = false;
    try {
      const result = await Promise.race([work, aborted]);
      settled = true;
      return result;
    } catch (error) {
      settled = error !== signal.reason;
      throw error;
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
      if (!settled) work.then((late) => onLate?.(late)).catch(() => undefined);
    }
  }

  describeFailure(error: unknown): AppError {
    if (this.#userSignal.aborted) {
      return new AbortedError(
        `The download of "${this.#targetPath}" was aborted; the partial file is kept and the next pull resumes it`,
        { param: this.#targetPath, cause: error },
      );
    }
    if (this.#stalled) {
      return new AppError(
        "DOWNLOAD_FAILED",
        `No data arrived from ${this.#host} for ${formatSeconds(this.#stallTimeoutMs)}; ` +
          "the partial file is kept: pull again to resume",
        { param: this.#targetPath, cause: error },
      );
    }
    if (error instanceof AppError) return error;
    const status = getHttpStatus(error);
    if (status !== undefined) {
      const hint =
        status.code === 404
          ? ": no such file there"
          : status.code === 401 || status.code === 403
            ? ": the repository is private, gated or missing (pass an Authorization header)"
            : "";
      return new AppError(
        "DOWNLOAD_FAILED",
        `${status.url} answered HTTP ${status.code}${status.text === "" ? "" : ` ${status.text}`}${hint}`,
        { param: status.url, cause: error },
      );
    }
    const reason = error instanceof Error ? error.message : String(error);
    return new AppError(
      "DOWNLOAD_FAILED",
      `The download from ${this.#host} failed: ${reason}. Any partial file is kept: pull again to resume`,
      { param: this.#targetPath, cause: error },
    );
  }

  dispose(): void {
    clearTimeout(this.#stallTimer);
    this.#userSignal.removeEventListener("abort", this.#onUserAbort);
  }

  #armStallTimer(): void {
    clearTimeout(this.#stallTimer);
    this.#stallTimer = setTimeout(() => {
      this.#stalled = true;
      this.#controller.abort(new Error(`no data for ${this.#stallTimeoutMs} ms`));
    }, this.#stallTimeoutMs);
  }
}

/**
 * Moves files the downloader wrongly completed back to their `.ipull` name, so the next pull resumes them.
 *
 * ipull (3.9) counts every finished chunk as a full 5 MiB, the short last chunk too. Near the end of a download
 * it can therefore believe it is at 100 % while a chunk is still missing; cancelled then (abort, stall), it
 * renames the unfinished `.ipull` file, progress record still appended, to the final name. Such a file is longer
 * than the remote file, which is how it is recognised here.
 */
async function restorePartialDownloads(downloader: ModelDownloader): Promise<void> {
  if (downloader.filesInfo.every((file) => file.totalSize <= 0)) return;
  // The rename runs in the downloader's close(), which may finish just after download() has settled.
  for (let attempt = 0; attempt < restoreChecks; attempt++) {
    let restored = false;
    for (const file of downloader.filesInfo) {
      if (file.totalSize <= 0) continue;
      const size = await getFileSize(file.filePath);
      if (size === undefined || size === file.totalSize) continue;
      const partialPath = resolvePartialDownloadPath(file.filePath);
      if ((await getFileSize(partialPath)) !== undefined) continue;
      try {
        await fs.rename(file.filePath, partialPath);
        restored = true;
      } catch {
        // Leave it; the download error that brought us here is the one to report.
      }
    }
    if (restored) return;
    await new Promise((resolve) => setTimeout(resolve, restoreCheckIntervalMs));
  }
}

/**
 * Checks that `url`'s host answers: a DNS lookup, then a TCP connect and, for https, a TLS handshake, all within
 * `timeoutMs`. Network failures become `DOWNLOAD_OFFLINE`; TLS failures (a proxy or captive portal presenting the
 * wrong certificate) `DOWNLOAD_FAILED`, because the downloader would retry those for minutes too.
 */
async function checkHostReachable(
  url: URL,
  timeoutMs: number,
  signal: AbortSignal,
  targetPath: string,
): Promise<void> {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  const deadline = Date.now() + timeoutMs;
  const offline = (reason: string, cause?: unknown) =>
    new AppError(
      "DOWNLOAD_OFFLINE",
      `Cannot reach ${url.host} (${reason}): the host is unreachable or there is no network. Nothing was downloaded.`,
      { param: url.origin, cause },
    );

  let addresses: { address: string; family: number }[] = [{ address: host, family: net.isIP(host) }];
  if (net.isIP(host) === 0) {
    try {
      addresses = await withDeadline(dns.lookup(host, { all: true }), deadline, signal);
    } catch (error) {
      if (signal.aborted) throw abortedBeforeDownload(targetPath, error);
      if (error instanceof DeadlineError) throw offline(`no DNS answer within ${formatSeconds(timeoutMs)}`);
      throw offline(`DNS lookup failed: ${getErrorCode(error) ?? String(error)}`, error);
    }
  }

  // Like fetch, try each address the name resolves to (localhost: ::1, then 127.0.0.1) until one answers.
  let lastError: unknown;
  for (const { address, family } of addresses) {
    const connection = connectOnce(url.protocol === "https:", {
      host: address,
      port,
      family,
      servername: net.isIP(host) === 0 ? host : undefined,
    });
    try {
      await withDeadline(connection.ready, deadline, signal);
      return;
    } catch (error) {
      if (signal.aborted) throw abortedBeforeDownload(targetPath, error);
      if (error instanceof DeadlineError) {
        throw offline(`no answer on port ${port} within ${formatSeconds(timeoutMs)}`);
      }
      const code = getErrorCode(error);
      if (connection.tcpConnected() && code !== "ECONNRESET" && code !== "ETIMEDOUT") {
        const reason = error instanceof Error ? error.message : String(error);
        throw new AppError(
          "DOWNLOAD_FAILED",
          `The TLS connection to ${url.host} failed (${reason}). A proxy or captive portal may be intercepting ` +
            "HTTPS. Nothing was downloaded.",
          { param: url.origin, cause: error },
        );
      }
      lastError = error;
    } finally {
      connection.close();
    }
  }
  throw offline(`connection failed: ${getErrorCode(lastError) ?? String(lastError)}`, lastError);
}

function connectOnce(
  secure: boolean,
  options: { host: string; port: number; family: number; servername: string | undefined },
): { ready: Promise<void>; tcpConnected: () => boolean; close: () => void } {
  let tcpConnected = false;
  const socket = secure
    ? tls.connect({ ...options, ALPNProtocols: ["http/1.1"] })
    : net.connect({ host: options.host, port: options.port, family: options.family });
  const ready = new Promise<void>((resolve, reject) => {
    socket.once("connect", () => {
      tcpConnected = true;
      if (!secure) resolve();
    });
    socket.once("secureConnect", () => resolve());
    // `on`, not `once`: a second error after the first must not go unhandled.
    socket.on("error", reject);
  });
  return { ready, tcpConnected: () => tcpConnected, close: () => void socket.destroy() };
}

class DeadlineError extends Error {}

async function withDeadline<T>(work: Promise<T>, deadline: number, signal: AbortSignal): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DeadlineError("deadline passed")),
      Math.max(0, deadline - Date.now()),
    );
    onAbort = () => reject(signal.reason as Error);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([work, stop]);
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
    // A lookup or connect that settles after the deadline must not become an unhandled rejection.
    work.catch(() => undefined);
  }
}

function throwIfAborted(signal: AbortSignal, targetPath: string): void {
  if (signal.aborted) throw abortedBeforeDownload(targetPath, signal.reason);
}

function abortedBeforeDownload(targetPath: string, cause: unknown): AbortedError {
  return new AbortedError(`The pull of "${targetPath}" was aborted before it started`, {
    param: targetPath,
    cause,
  });
}

async function getFileSize(filePath: string): Promise<number | undefined> {
  try {
    const stats = await fs.stat(filePath);
    return stats.isFile() ? stats.size : undefined;
  } catch {
    return undefined;
  }
}

/** The total size of the files, or `undefined` when any of them is missing. */
async function sumFileSizes(paths: readonly string[]): Promise<number | undefined> {
  let total = 0;
  for (const filePath of paths) {
    const size = await getFileSize(filePath);
    if (size === undefined) return undefined;
    total += size;
  }
  return total;
}

/** ipull's `StatusCodeError` is not exported; recognise it by shape. */
function getHttpStatus(error: unknown): { url: string; code: number; text: string } | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const candidate = error as { url?: unknown; statusCode?: unknown; statusText?: unknown };
  if (typeof candidate.statusCode !== "number" || typeof candidate.url !== "string") return undefined;
  return {
    url: candidate.url,
    code: candidate.statusCode,
    text: typeof candidate.statusText === "string" ? candidate.statusText : "",
  };
}

function getErrorCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined;
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

/** The partial-download file node-llama-cpp's downloader keeps next to `filePath` until it completes. */
export function resolvePartialDownloadPath(filePath: string): string {
  return filePath + partialFileSuffix;
}
