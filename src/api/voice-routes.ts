import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { App, VoiceService } from "../app.js";
import { AppError } from "../shared/index.js";
import { toValidationError } from "./errors.js";

const speechBody = z
  .object({
    model: z.string().min(1).max(256).optional(),
    input: z.string(),
    voice: z.string().max(64).optional(),
    response_format: z.string().max(32).optional(),
    speed: z.number().optional(),
    instructions: z.string().max(4096).optional(),
  })
  .loose();

/** The fields OpenAI's transcription endpoint takes besides `file` and `model`; others are refused. */
const transcriptionFields = new Set([
  "language",
  "prompt",
  "response_format",
  "temperature",
  "timestamp_granularities[]",
]);

/**
 * `/v1/audio/speech` (espeak-ng, WAV) and `/v1/audio/transcriptions` (forwarded as multipart to the
 * `voice.transcription` server), in OpenAI's shapes.
 */
export function registerVoiceRoutes(fastify: FastifyInstance, app: App): void {
  const voiceOf = (): VoiceService => {
    if (app.voice === undefined)
      throw new AppError("INVALID_REQUEST", "voice is turned off on this server (voice.enabled: false)");
    return app.voice;
  };

  fastify.post("/v1/audio/speech", async (request, reply) => {
    const parsed = speechBody.safeParse(request.body ?? {});
    if (!parsed.success) throw toValidationError(parsed.error);
    const body = parsed.data;
    const wav = await voiceOf().speech.synthesize(
      {
        input: body.input,
        ...(body.voice === undefined ? {} : { voice: body.voice }),
        ...(body.speed === undefined ? {} : { speed: body.speed }),
        ...(body.response_format === undefined ? {} : { format: body.response_format }),
      },
      request.sarai.signal,
    );
    return reply.header("content-type", "audio/wav").send(wav);
  });

  // Multipart uploads are read whole (up to voice.maxUploadMb) and parsed by the platform's FormData parser.
  const uploadLimit = Math.ceil(app.config.voice.maxUploadMb * 2 ** 20) + 64 * 1024;
  fastify.addContentTypeParser(
    "multipart/form-data",
    { parseAs: "buffer", bodyLimit: uploadLimit },
    (request, body, done) => {
      new Response(body as Buffer, { headers: { "content-type": request.headers["content-type"] ?? "" } })
        .formData()
        .then(
          (form) => done(null, form),
          () =>
            done(new AppError("INVALID_REQUEST", "the multipart/form-data body cannot be parsed"), undefined),
        );
    },
  );

  fastify.post("/v1/audio/transcriptions", { bodyLimit: uploadLimit }, async (request, reply) => {
    const voice = voiceOf();
    if (voice.transcriber === undefined)
      throw new AppError(
        "INVALID_REQUEST",
        "speech to text needs an OpenAI-compatible transcription server (e.g. whisper.cpp's server): set voice.transcription.baseUrl and voice.transcription.model in the config",
        { param: "model" },
      );
    const form = request.body;
    if (!(form instanceof FormData))
      throw new AppError("INVALID_REQUEST", "send the audio as multipart/form-data with a file field", {
        param: "file",
      });
    const file = form.get("file");
    if (file === null || typeof file === "string")
      throw new AppError("INVALID_REQUEST", "file: is required (the audio file to transcribe)", {
        param: "file",
      });
    if (file.size === 0) throw new AppError("INVALID_REQUEST", "file: is empty", { param: "file" });
    const fields: Record<string, string> = {};
    for (const [name, value] of form.entries()) {
      if (name === "file" || name === "model") continue;
      if (typeof value !== "string" || !transcriptionFields.has(name))
        throw new AppError("INVALID_REQUEST", `${name}: not a transcription field`, { param: name });
      fields[name] = value;
    }
    const result = await voice.transcriber.transcribe(
      {
        file: {
          bytes: new Uint8Array(await file.arrayBuffer()),
          filename: file.name || "audio",
          contentType: file.type || "application/octet-stream",
        },
        fields,
      },
      request.sarai.signal,
    );
    return reply.code(result.status).header("content-type", result.contentType).send(result.body);
  });
}
