import { spawn } from "node:child_process";
import { AbortedError, AppError } from "../shared/index.js";

/** The languages espeak-ng speaks here, by the names requests use. */
export const speechLanguages = ["es", "en"] as const;
export type SpeechLanguage = (typeof speechLanguages)[number];

/** OpenAI's voice names: accepted for compatibility and spoken with the English voice. */
export const openAiVoices = [
  "alloy",
  "ash",
  "ballad",
  "coral",
  "echo",
  "fable",
  "nova",
  "onyx",
  "sage",
  "shimmer",
  "verse",
] as const;

/** The audio formats `synthesize` returns. */
export const speechFormats = ["wav"] as const;
export type SpeechFormat = (typeof speechFormats)[number];

const espeakVoices: Record<SpeechLanguage, string> = { es: "es", en: "en-us" };
/** espeak-ng's own default rate, in words per minute: OpenAI's `speed: 1`. */
const baseWordsPerMinute = 175;
const minWordsPerMinute = 80;
const maxWordsPerMinute = 450;

export interface SpeechRequest {
  input: string;
  /** `es`, `en` or an OpenAI voice name (English). Default: the synthesizer's `defaultVoice`. */
  voice?: string;
  /** OpenAI's speed, 0.25–4 (1 = espeak-ng's 175 words per minute). Default: `1`. */
  speed?: number;
  /** Default: `wav`. */
  format?: string;
}

export interface SpeechSynthesizerOptions {
  /** The espeak-ng executable. Default: `espeak-ng`. */
  command?: string;
  /** Longest input, in characters. */
  maxInputChars: number;
  defaultVoice: SpeechLanguage;
  /** Longest an espeak-ng run may take, in ms. */
  timeoutMs: number;
}

/** Text to speech with espeak-ng: a child process per request, text on stdin, a WAV on stdout. */
export class SpeechSynthesizer {
  readonly #options: SpeechSynthesizerOptions;

  constructor(options: SpeechSynthesizerOptions) {
    this.#options = options;
  }

  /** The espeak-ng voice for a request's `voice`; an unknown one is a 400 that lists the accepted names. */
  resolveVoice(voice: string | undefined): SpeechLanguage {
    const wanted = (voice ?? this.#options.defaultVoice).trim().toLowerCase();
    if ((speechLanguages as readonly string[]).includes(wanted)) return wanted as SpeechLanguage;
    if ((openAiVoices as readonly string[]).includes(wanted)) return "en";
    throw new AppError(
      "INVALID_REQUEST",
      `voice: unknown voice "${truncate(voice ?? "", 40)}"; accepted: ${[...speechLanguages, ...openAiVoices].join(", ")}`,
      { param: "voice" },
    );
  }

  /** Checks the request (400s naming the field) and returns the WAV bytes. */
  async synthesize(request: SpeechRequest, signal: AbortSignal): Promise<Buffer> {
    const { input } = request;
    if (input.trim() === "")
      throw new AppError("INVALID_REQUEST", "input: is empty; give the text to speak", { param: "input" });
    if (input.length > this.#options.maxInputChars)
      throw new AppError(
        "INVALID_REQUEST",
        `input: ${input.length} characters is more than voice.maxInputChars (${this.#options.maxInputChars})`,
        { param: "input" },
      );
    const format = request.format ?? "wav";
    if (!(speechFormats as readonly string[]).includes(format))
      throw new AppError(
        "INVALID_REQUEST",
        `response_format: "${truncate(format, 20)}" is not offered; accepted: ${speechFormats.join(", ")}`,
        { param: "response_format" },
      );
    const speed = request.speed ?? 1;
    if (!Number.isFinite(speed) || speed < 0.25 || speed > 4)
      throw new AppError("INVALID_REQUEST", "speed: must be between 0.25 and 4", { param: "speed" });
    const language = this.resolveVoice(request.voice);
    const wordsPerMinute = Math.round(
      Math.min(maxWordsPerMinute, Math.max(minWordsPerMinute, baseWordsPerMinute * speed)),
    );
    const wav = await this.#run(
      ["-v", espeakVoices[language], "-s", String(wordsPerMinute), "--stdout"],
      input,
      signal,
    );
    return fixWavSizes(wav);
  }

  #run(args: string[], input: string, signal: AbortSignal): Promise<Buffer> {
    const command = this.#options.command ?? "espeak-ng";
    return new Promise<Buffer>((resolve, reject) => {
      if (signal.aborted) {
        reject(new AbortedError("speech synthesis aborted"));
        return;
      }
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), this.#options.timeoutMs);
      const onAbort = () => controller.abort();
      signal.addEventListener("abort", onAbort, { once: true });
      // An argument array and stdin for the text: no shell, and a text starting with "-" is not an option.
      const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"], signal: controller.signal });
      const out: Buffer[] = [];
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
      child.stderr.on("data", (chunk: Buffer) => {
        if (stderr.length < 2000) stderr += chunk.toString("utf8");
      });
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
      };
      child.on("error", (error: NodeJS.ErrnoException) => {
        done();
        if (signal.aborted) reject(new AbortedError("speech synthesis aborted"));
        else if (controller.signal.aborted)
          reject(
            new AppError(
              "INFERENCE_FAILED",
              `espeak-ng took longer than voice.synthesisTimeoutMs (${this.#options.timeoutMs} ms)`,
            ),
          );
        else if (error.code === "ENOENT")
          reject(
            new AppError(
              "INFERENCE_FAILED",
              `text to speech needs espeak-ng: "${command}" is not installed (apt-get install espeak-ng, or set voice.espeakCommand)`,
              { cause: error },
            ),
          );
        else reject(new AppError("INFERENCE_FAILED", `espeak-ng failed: ${error.message}`, { cause: error }));
      });
      child.on("close", (code) => {
        done();
        if (controller.signal.aborted) return;
        const wav = Buffer.concat(out);
        if (code !== 0 || wav.length < 44)
          reject(
            new AppError(
              "INFERENCE_FAILED",
              `espeak-ng exited with ${code}: ${truncate(stderr.trim(), 200)}`,
            ),
          );
        else resolve(wav);
      });
      child.stdin.on("error", () => {
        // espeak-ng exiting early closes its stdin; the exit code tells why.
      });
      child.stdin.end(input, "utf8");
    });
  }
}

/**
 * espeak-ng writing to a pipe cannot seek back, so its RIFF and data sizes say 0x7ffff000: players cope, but
 * duration readers (soxi, browsers' seek bars) do not. The sizes are rewritten from the bytes received.
 */
export function fixWavSizes(wav: Buffer): Buffer {
  if (wav.length < 12 || wav.toString("ascii", 0, 4) !== "RIFF" || wav.toString("ascii", 8, 12) !== "WAVE")
    throw new AppError("INFERENCE_FAILED", "espeak-ng did not write a WAV file");
  const fixed = Buffer.from(wav);
  fixed.writeUInt32LE(fixed.length - 8, 4);
  let offset = 12;
  while (offset + 8 <= fixed.length) {
    const id = fixed.toString("ascii", offset, offset + 4);
    if (id === "data") {
      fixed.writeUInt32LE(fixed.length - offset - 8, offset + 4);
      return fixed;
    }
    offset += 8 + fixed.readUInt32LE(offset + 4);
  }
  throw new AppError("INFERENCE_FAILED", "espeak-ng wrote a WAV file without a data chunk");
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
