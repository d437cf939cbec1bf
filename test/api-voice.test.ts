import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectErrorBody, startTestServer, type TestServer } from "./api-helpers.js";
import { inspectWav } from "./wav-helpers.js";

interface Forwarded {
  path: string;
  contentType: string;
  authorization: string | undefined;
  form: FormData;
}

/** A fake whisper.cpp-style server: OpenAI's `/v1/audio/transcriptions`, multipart in, JSON out. */
async function startFakeWhisper(): Promise<{ url: string; received: Forwarded[]; close(): Promise<void> }> {
  const received: Forwarded[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const contentType = req.headers["content-type"] ?? "";
      void new Response(Buffer.concat(chunks), { headers: { "content-type": contentType } })
        .formData()
        .then((form) => {
          received.push({ path: req.url ?? "", contentType, authorization: req.headers.authorization, form });
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify({ text: `heard ${form.get("language") === "es" ? "hola" : "hello"}` }));
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function multipart(parts: { name: string; value: string | Buffer; filename?: string; type?: string }[]) {
  const boundary = "----sarai-test-boundary";
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename === undefined ? "" : `; filename="${part.filename}"`}`;
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: ${disposition}\r\n${part.type === undefined ? "" : `Content-Type: ${part.type}\r\n`}\r\n`,
      ),
      Buffer.isBuffer(part.value) ? part.value : Buffer.from(part.value),
      Buffer.from("\r\n"),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

describe("api voice", () => {
  let whisper: Awaited<ReturnType<typeof startFakeWhisper>>;
  let api: TestServer;
  let unconfigured: TestServer;

  beforeAll(async () => {
    whisper = await startFakeWhisper();
    api = await startTestServer({
      listen: false,
      voice: {
        maxInputChars: 500,
        transcription: { baseUrl: whisper.url, model: "whisper-tiny", apiKey: "whisper-secret" },
      },
    });
    unconfigured = await startTestServer({ listen: false });
  }, 120_000);
  afterAll(async () => {
    await api.close();
    await unconfigured.close();
    await whisper.close();
  });

  describe("POST /v1/audio/speech", () => {
    it("answers a WAV in English and in Spanish that sox reads as 22050 Hz speech, not silence", async () => {
      for (const [voice, input] of [
        ["en", "Good morning. The weather is sunny today."],
        ["es", "Buenos días. Hoy hace sol en Sevilla."],
      ]) {
        const response = await api.server.fastify.inject({
          method: "POST",
          url: "/v1/audio/speech",
          payload: { model: "tts-1", input, voice, response_format: "wav" },
        });
        expect(response.statusCode).toBe(200);
        expect(response.headers["content-type"]).toBe("audio/wav");
        const info = inspectWav(response.rawPayload);
        expect(info.rate).toBe(22050);
        expect(info.seconds).toBeGreaterThan(0.5);
        expect(info.rms).toBeGreaterThan(0.01);
      }
    });

    it("makes longer audio for longer text and accepts OpenAI voice names", async () => {
      const speak = async (input: string) =>
        inspectWav(
          (
            await api.server.fastify.inject({
              method: "POST",
              url: "/v1/audio/speech",
              payload: { model: "tts-1", input, voice: "alloy" },
            })
          ).rawPayload,
        );
      const short = await speak("Hello there.");
      const long = await speak("Hello there. This sentence is a great deal longer than the first one was.");
      expect(long.seconds).toBeGreaterThan(short.seconds * 1.5);
    });

    it("refuses empty, too long and unknown-voice input with a 400 naming the field", async () => {
      for (const [payload, param] of [
        [{ input: "" }, "input"],
        [{ input: "a".repeat(501) }, "input"],
        [{ input: "hello", voice: "darth" }, "voice"],
        [{ input: "hello", response_format: "mp3" }, "response_format"],
        [{ input: "hello", speed: 10 }, "speed"],
        [{ voice: "en" }, "input"],
      ] as const) {
        const response = await api.server.fastify.inject({
          method: "POST",
          url: "/v1/audio/speech",
          payload: { model: "tts-1", ...payload },
        });
        expect(response.statusCode).toBe(400);
        expect(expectErrorBody(response.json(), "invalid_request").error.param).toBe(param);
      }
    });
  });

  describe("POST /v1/audio/transcriptions", () => {
    it("forwards the upload as multipart to the transcription server and returns its answer", async () => {
      const audio = Buffer.from([0x52, 0x49, 0x46, 0x46, 1, 2, 3, 255, 0, 128]);
      const { payload, contentType } = multipart([
        { name: "file", value: audio, filename: "clip.wav", type: "audio/wav" },
        { name: "model", value: "whisper-1" },
        { name: "language", value: "es" },
        { name: "response_format", value: "json" },
      ]);
      const response = await api.server.fastify.inject({
        method: "POST",
        url: "/v1/audio/transcriptions",
        payload,
        headers: { "content-type": contentType },
      });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ text: "heard hola" });
      const forwarded = whisper.received.at(-1) as Forwarded;
      expect(forwarded.path).toBe("/v1/audio/transcriptions");
      expect(forwarded.contentType).toMatch(/^multipart\/form-data; boundary=/);
      expect(forwarded.authorization).toBe("Bearer whisper-secret");
      // The configured model replaces the client's; the other fields pass on as given.
      expect(forwarded.form.get("model")).toBe("whisper-tiny");
      expect(forwarded.form.get("language")).toBe("es");
      expect(forwarded.form.get("response_format")).toBe("json");
      const file = forwarded.form.get("file") as File;
      expect(file.name).toBe("clip.wav");
      expect(file.type).toBe("audio/wav");
      expect(Buffer.from(await file.arrayBuffer()).equals(audio)).toBe(true);
    });

    it("refuses an upload without a file and unknown fields, naming them", async () => {
      const noFile = multipart([{ name: "model", value: "whisper-1" }]);
      const missing = await api.server.fastify.inject({
        method: "POST",
        url: "/v1/audio/transcriptions",
        payload: noFile.payload,
        headers: { "content-type": noFile.contentType },
      });
      expect(missing.statusCode).toBe(400);
      expect(expectErrorBody(missing.json()).error.param).toBe("file");
      const extra = multipart([
        { name: "file", value: Buffer.from("abc"), filename: "a.wav", type: "audio/wav" },
        { name: "shell", value: "rm -rf /" },
      ]);
      const unknown = await api.server.fastify.inject({
        method: "POST",
        url: "/v1/audio/transcriptions",
        payload: extra.payload,
        headers: { "content-type": extra.contentType },
      });
      expect(unknown.statusCode).toBe(400);
      expect(expectErrorBody(unknown.json()).error.param).toBe("shell");
    });

    it("answers 400 saying how to configure a transcription server when none is", async () => {
      const { payload, contentType } = multipart([
        { name: "file", value: Buffer.from("abc"), filename: "a.wav", type: "audio/wav" },
        { name: "model", value: "whisper-1" },
      ]);
      const response = await unconfigured.server.fastify.inject({
        method: "POST",
        url: "/v1/audio/transcriptions",
        payload,
        headers: { "content-type": contentType },
      });
      expect(response.statusCode).toBe(400);
      const body = expectErrorBody(response.json(), "invalid_request");
      expect(body.error.message).toMatch(/voice\.transcription\.baseUrl/);
    });
  });
});
