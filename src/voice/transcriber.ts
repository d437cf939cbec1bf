import { AbortedError, AppError } from "../shared/index.js";

/** An OpenAI-compatible transcription server (whisper.cpp's server, faster-whisper, vLLM). */
export interface TranscriptionRemote {
  /** The API root; uploads go to `<baseUrl>/audio/transcriptions`. */
  baseUrl: string;
  model: string;
  apiKey?: string;
  /** Longest wait for the whole transcription, in ms. */
  timeoutMs: number;
}

/** One upload to transcribe: the audio file and OpenAI's optional fields, passed on as given. */
export interface TranscriptionRequest {
  file: { bytes: Uint8Array; filename: string; contentType: string };
  /** `language`, `prompt`, `response_format`, `temperature`, … (`model` is the configured one). */
  fields: Record<string, string>;
}

/** The remote server's answer, passed back to the client as it came. */
export interface TranscriptionResponse {
  status: number;
  contentType: string;
  body: Buffer;
}

/** Speech to text by forwarding the upload, as multipart, to the configured remote role. */
export class Transcriber {
  readonly #remote: TranscriptionRemote;
  readonly #url: string;

  constructor(remote: TranscriptionRemote) {
    this.#remote = remote;
    this.#url = `${remote.baseUrl.replace(/\/+$/, "")}/audio/transcriptions`;
  }

  async transcribe(request: TranscriptionRequest, signal: AbortSignal): Promise<TranscriptionResponse> {
    const form = new FormData();
    const { file } = request;
    form.append("file", new Blob([file.bytes], { type: file.contentType }), file.filename);
    for (const [name, value] of Object.entries(request.fields))
      if (name !== "model") form.append(name, value);
    form.append("model", this.#remote.model);
    const timeout = AbortSignal.timeout(this.#remote.timeoutMs);
    let response: Response;
    try {
      response = await fetch(this.#url, {
        method: "POST",
        body: form,
        headers: this.#remote.apiKey === undefined ? {} : { authorization: `Bearer ${this.#remote.apiKey}` },
        signal: AbortSignal.any([signal, timeout]),
      });
      const body = Buffer.from(await response.arrayBuffer());
      if (response.status >= 500)
        throw new AppError(
          "UPSTREAM_UNAVAILABLE",
          `the transcription server answered ${response.status}: ${body.toString("utf8", 0, 200)}`,
        );
      return {
        status: response.status,
        contentType: response.headers.get("content-type") ?? "application/json",
        body,
      };
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (signal.aborted) throw new AbortedError("transcription aborted");
      if (timeout.aborted)
        throw new AppError(
          "UPSTREAM_TIMEOUT",
          `the transcription server did not answer within voice.transcription.timeoutMs (${this.#remote.timeoutMs} ms)`,
        );
      throw new AppError(
        "UPSTREAM_UNAVAILABLE",
        `the transcription server at ${this.#remote.baseUrl} cannot be reached`,
        { cause: error },
      );
    }
  }
}
