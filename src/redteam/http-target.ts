import type { AttackRequest, AttackResponse } from "./types.js";

export interface HttpTargetOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …` when the server requires a key; never logged. */
  apiKey?: string;
  /** Per request, in ms. Default: `60_000`. */
  timeoutMs?: number;
  /** Body bytes kept per response (the rest is read and dropped). Default: 64 KiB. */
  maxBodyBytes?: number;
}

/** Sends attack requests to a running server over HTTP: a real client, never the server in-process. */
export class HttpTarget {
  readonly baseUrl: string;
  readonly #apiKey: string | undefined;
  readonly #timeoutMs: number;
  readonly #maxBodyBytes: number;

  constructor(options: HttpTargetOptions) {
    const url = new URL(options.baseUrl);
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw new Error(`the red team's target must be an http(s) URL, not ${options.baseUrl}`);
    this.baseUrl = url.origin;
    this.#apiKey = options.apiKey;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
  }

  async send(request: AttackRequest, signal?: AbortSignal): Promise<AttackResponse> {
    const started = performance.now();
    const headers: Record<string, string> = { ...request.headers };
    if (this.#apiKey !== undefined) headers["authorization"] = `Bearer ${this.#apiKey}`;
    let body: string | undefined;
    if (request.raw !== undefined) body = request.raw;
    else if (request.json !== undefined) body = JSON.stringify(request.json);
    if (body !== undefined) headers["content-type"] = request.contentType ?? "application/json";
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    try {
      // The path is sent as written (`/../etc/passwd` must reach the server unnormalised).
      const response = await fetch(this.baseUrl + request.path, {
        method: request.method,
        headers,
        ...(body === undefined ? {} : { body }),
        signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
      });
      return {
        status: response.status,
        body: await this.#readBody(response),
        durationMs: Math.round(performance.now() - started),
      };
    } catch (error) {
      signal?.throwIfAborted();
      return {
        status: 0,
        body: "",
        durationMs: Math.round(performance.now() - started),
        error: describeFetchError(error),
      };
    }
  }

  async #readBody(response: Response): Promise<string> {
    if (response.body === null) return "";
    const decoder = new TextDecoder();
    let text = "";
    let kept = 0;
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      if (kept < this.#maxBodyBytes) {
        const room = this.#maxBodyBytes - kept;
        text += decoder.decode(chunk.subarray(0, room), { stream: true });
        kept += Math.min(room, chunk.byteLength);
      }
    }
    return text + decoder.decode();
  }
}

function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (error.name === "TimeoutError") return "timed out";
  if (typeof cause?.code === "string") return cause.code;
  return typeof cause?.message === "string" ? cause.message : error.message;
}
