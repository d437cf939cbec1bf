import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { crc32 } from "node:zlib";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "../src/api/index.js";
import { createApp, type App } from "../src/app.js";
import { loadConfig, type ConfigPatch } from "../src/config/index.js";
import { createSilentLogger } from "../src/shared/index.js";
import { expectErrorBody, metricValue, startTestServer, type TestServer } from "./api-helpers.js";
import { createCliRunner, expectNoStackTrace } from "./cli-helpers.js";
import { defaultScript, startFakeOpenAiServer, type FakeOpenAiServer } from "./fake-openai-server.js";
import { getTestLlama } from "./models.js";

interface Instance {
  app: App;
  server: Server;
  url: string;
  dir: string;
}

const instances: Instance[] = [];
let fake: FakeOpenAiServer;

/** A SARAi server whose main role is the fake OpenAI-compatible server. */
async function startRemoteInstance(
  vision: boolean,
  visionConfig: NonNullable<ConfigPatch["vision"]> = {},
): Promise<Instance> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "sarai-vision-"));
  const { config } = loadConfig({
    env: { HOME: dir, SARAI_PATHS_DATA_DIR: dir },
    cwd: dir,
    overrides: {
      models: { main: { remote: { baseUrl: fake.baseUrl, model: "fake-vision", vision, retries: 0 } } },
      server: { port: 0, rateLimitPerMinute: 0 },
      inference: { threads: 1, sequences: 1, contextSize: 1024 },
      vision: visionConfig,
    },
  });
  const app = await createApp({ config, logger: createSilentLogger(), llama: await getTestLlama() });
  const server = await createServer({ app, logger: createSilentLogger() });
  const instance = { app, server, url: await server.listen(), dir };
  instances.push(instance);
  return instance;
}

/** A 1200×800 JPEG with shapes on a gradient: larger than maxSidePx on both sides. */
async function makeJpeg(): Promise<Buffer> {
  const svg = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="800">
      <defs><linearGradient id="g"><stop offset="0" stop-color="#123"/><stop offset="1" stop-color="#fc3"/></linearGradient></defs>
      <rect width="1200" height="800" fill="url(#g)"/><circle cx="400" cy="400" r="250" fill="#e33"/>
      <rect x="700" y="150" width="350" height="500" fill="#3a6"/></svg>`,
  );
  return sharp(svg).jpeg({ quality: 80 }).toBuffer();
}

/** A small PNG whose header claims 12000×12000 pixels (144 Mpx, over vision.maxPixels), with a valid CRC. */
async function makeBombPng(): Promise<Buffer> {
  const png = Buffer.from(
    await sharp({ create: { width: 8, height: 8, channels: 3, background: "#000" } })
      .png()
      .toBuffer(),
  );
  // Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4), … CRC over type and data.
  expect(png.subarray(12, 16).toString("latin1")).toBe("IHDR");
  png.writeUInt32BE(12_000, 16);
  png.writeUInt32BE(12_000, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

const dataUrl = (bytes: Buffer, type = "image/png") => `data:${type};base64,${bytes.toString("base64")}`;

function imageMessage(url: string, text = "¿Qué hay en la imagen?") {
  return {
    role: "user",
    content: [
      { type: "text", text },
      { type: "image_url", image_url: { url, detail: "auto" } },
    ],
  };
}

function postChat(url: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "sarai", max_tokens: 16, ...body }),
  });
}

/** The image_url data URLs the fake received in its last request, decoded. */
function receivedImages(): Buffer[] {
  const body = fake.requests.at(-1)?.body as { messages: { content: unknown }[] };
  const images: Buffer[] = [];
  for (const message of body.messages) {
    if (!Array.isArray(message.content)) continue;
    for (const part of message.content as { type: string; image_url?: { url: string } }[]) {
      if (part.type !== "image_url") continue;
      const match = /^data:image\/webp;base64,(.+)$/.exec(part.image_url?.url ?? "");
      expect(match).not.toBeNull();
      images.push(Buffer.from(match?.[1] ?? "", "base64"));
    }
  }
  return images;
}

async function expectWebpWithin512(bytes: Buffer): Promise<{ width: number; height: number }> {
  expect(bytes.subarray(0, 4).toString("latin1")).toBe("RIFF");
  expect(bytes.subarray(8, 12).toString("latin1")).toBe("WEBP");
  const metadata = await sharp(bytes).metadata();
  expect(metadata.format).toBe("webp");
  expect(metadata.width).toBeLessThanOrEqual(512);
  expect(metadata.height).toBeLessThanOrEqual(512);
  return { width: metadata.width, height: metadata.height };
}

let jpeg: Buffer;
let png: Buffer;
let vision: Instance;

beforeAll(async () => {
  fake = await startFakeOpenAiServer();
  jpeg = await makeJpeg();
  png = await sharp(jpeg).png().toBuffer();
  vision = await startRemoteInstance(true);
});

afterAll(async () => {
  for (const instance of instances.reverse()) {
    await instance.server.close();
    await instance.app.dispose();
    await rm(instance.dir, { recursive: true, force: true });
  }
  await fake.close();
});

describe("api", () => {
  describe("image input", () => {
    it("carries a JPEG to a remote vision model as a WebP within 512 px, after the text", async () => {
      const before = fake.requests.length;
      const response = await postChat(vision.url, { messages: [imageMessage(dataUrl(jpeg, "image/jpeg"))] });
      expect(response.status).toBe(200);
      const completion = (await response.json()) as {
        choices: { message: { content: string } }[];
        sarai: { images?: { width: number; height: number; bytes: number; cache: string }[] };
      };
      expect(completion.choices[0]?.message.content).toBe(defaultScript.pieces.join(""));
      expect(fake.requests.length).toBe(before + 1);
      const body = fake.requests.at(-1)?.body as { messages: { role: string; content: unknown[] }[] };
      expect(body.messages).toHaveLength(1);
      expect(body.messages[0]?.role).toBe("user");
      expect(body.messages[0]?.content[0]).toEqual({ type: "text", text: "¿Qué hay en la imagen?" });
      const [image] = receivedImages();
      const size = await expectWebpWithin512(image as Buffer);
      // 1200×800 fitted within 512: the long side is 512 and the aspect ratio is kept.
      expect(size).toEqual({ width: 512, height: 341 });
      expect(completion.sarai.images).toEqual([
        { width: 512, height: 341, bytes: image?.length, cache: expect.any(String) as unknown },
      ]);
    });

    it("streams an answer to a PNG the same way, reporting the image in the last chunk", async () => {
      const response = await postChat(vision.url, {
        stream: true,
        messages: [imageMessage(dataUrl(png), "describe")],
      });
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
      const chunks = text
        .split("\n\n")
        .map((event) => event.replace(/^data: /, ""))
        .filter((data) => data !== "" && data !== "[DONE]")
        .map((data) => JSON.parse(data) as { sarai?: { images?: unknown[] } });
      expect(chunks.find((chunk) => chunk.sarai?.images !== undefined)?.sarai?.images).toHaveLength(1);
      const [image] = receivedImages();
      await expectWebpWithin512(image as Buffer);
    });

    it("reports an exact cache hit for the same image sent again", async () => {
      const bytes = await sharp({ create: { width: 640, height: 640, channels: 3, background: "#47a" } })
        .png()
        .toBuffer();
      const send = async () => {
        const response = await postChat(vision.url, { messages: [imageMessage(dataUrl(bytes))] });
        expect(response.status).toBe(200);
        return ((await response.json()) as { sarai: { images: { cache: string }[] } }).sarai.images;
      };
      expect((await send())[0]?.cache).toBe("miss");
      expect((await send())[0]?.cache).toBe("exact");
      const metrics = await (await fetch(`${vision.url}/metrics`)).text();
      expect(metricValue(metrics, "sarai_images_prepared_total", { cache: "exact" })).toBeGreaterThanOrEqual(
        1,
      );
      expect(metricValue(metrics, "sarai_images_prepared_total", { cache: "miss" })).toBeGreaterThanOrEqual(
        1,
      );
      const hitRate = metricValue(metrics, "sarai_image_cache_hit_rate") ?? Number.NaN;
      expect(hitRate).toBeGreaterThan(0);
      expect(hitRate).toBeLessThan(1);
    });

    it("takes images larger than server.bodyLimitKb (the chat route's limit has room for one)", async () => {
      const noise = Buffer.alloc(900 * 700 * 3);
      for (let i = 0; i < noise.length; i++) noise[i] = (i * 2_654_435_761) >>> 24;
      const big = await sharp(noise, { raw: { width: 900, height: 700, channels: 3 } })
        .png({ compressionLevel: 0 })
        .toBuffer();
      expect(big.length).toBeGreaterThan(1024 * 1024);
      const response = await postChat(vision.url, { messages: [imageMessage(dataUrl(big))] });
      expect(response.status).toBe(200);
      await expectWebpWithin512(receivedImages()[0] as Buffer);
    });

    it("refuses images for a remote role without vision: true, sending nothing upstream", async () => {
      const blind = await startRemoteInstance(false);
      const before = fake.requests.length;
      const response = await postChat(blind.url, { messages: [imageMessage(dataUrl(png))] });
      expect(response.status).toBe(400);
      const { error } = expectErrorBody(await response.json(), "vision_unsupported");
      expect(error.param).toBe("messages[0].content[1]");
      expect(error.message).toMatch(/vision: true/);
      expect(fake.requests.length).toBe(before);
    });

    it("refuses images when vision.enabled is false", async () => {
      const off = await startRemoteInstance(true, { enabled: false });
      const before = fake.requests.length;
      const response = await postChat(off.url, { messages: [imageMessage(dataUrl(png))] });
      expect(response.status).toBe(400);
      const { error } = expectErrorBody(await response.json(), "vision_unsupported");
      expect(error.param).toBe("messages[0].content[1]");
      expect(error.message).toMatch(/vision\.enabled/);
      expect(fake.requests.length).toBe(before);
    });

    describe("with a local model", () => {
      let local: TestServer;
      beforeAll(async () => {
        local = await startTestServer();
      });
      afterAll(() => local.close());

      it("refuses images with vision_unsupported, streaming or not", async () => {
        for (const stream of [false, true]) {
          const response = await postChat(local.url, { stream, messages: [imageMessage(dataUrl(png))] });
          expect(response.status).toBe(400);
          const { error } = expectErrorBody(await response.json(), "vision_unsupported");
          expect(error.param).toBe("messages[0].content[1]");
          expect(error.message).toMatch(/text-only/);
        }
      });

      it("refuses images on the inference port too, rather than dropping them", async () => {
        const error = await local.app.backend
          .chat(
            { messages: [{ role: "user", content: "hola", images: [{ data: png, mimeType: "image/png" }] }] },
            new AbortController().signal,
          )
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(error).toMatchObject({ code: "VISION_UNSUPPORTED", param: "messages[0].content" });
      });
    });

    describe("bad input", () => {
      let small: Instance;
      beforeAll(async () => {
        small = await startRemoteInstance(true, { maxInputMb: 0.05 });
      });

      const cases: {
        name: string;
        url: () => Promise<string> | string;
        status: number;
        code: string;
        message?: RegExp;
      }[] = [
        {
          name: "text bytes declared as a PNG",
          url: () => dataUrl(Buffer.from("this is not an image, just some text\n".repeat(4))),
          status: 400,
          code: "image_invalid",
        },
        {
          name: "a truncated JPEG",
          url: () => dataUrl(jpeg.subarray(0, Math.floor(jpeg.length / 2)), "image/jpeg"),
          status: 400,
          code: "image_invalid",
        },
        {
          name: "a decompression bomb (a PNG header claiming 12000×12000)",
          url: async () => dataUrl(await makeBombPng()),
          status: 413,
          code: "image_too_large",
          message: /12000×12000 pixels.*maxPixels/,
        },
        {
          name: "a data URL without a comma",
          url: () => "data:image/png;base64",
          status: 400,
          code: "image_invalid",
        },
        {
          name: "a data URL without base64",
          url: () => "data:image/png,%89PNG",
          status: 400,
          code: "image_invalid",
        },
        {
          name: "bad base64",
          url: () => "data:image/png;base64,iVBO@@@@",
          status: 400,
          code: "image_invalid",
        },
        {
          // /=+$/ backtracked quadratically on this (3 s, blocking every other request).
          name: "a run of 100 000 = inside the base64",
          url: () => `data:image/png;base64,A${"=".repeat(100_000)}A`,
          status: 400,
          code: "image_invalid",
          message: /not valid base64/,
        },
        {
          name: "an empty data URL",
          url: () => "data:image/png;base64,",
          status: 400,
          code: "image_invalid",
        },
        {
          name: "a data URL of another type",
          url: () => dataUrl(png, "text/html"),
          status: 400,
          code: "image_invalid",
        },
        {
          name: "a remote URL",
          url: () => "https://example.com/cat.png",
          status: 400,
          code: "invalid_request",
          message: /fetching remote image URLs is turned off/,
        },
        { name: "a file path", url: () => "/etc/passwd", status: 400, code: "invalid_request" },
      ];
      for (const testCase of cases) {
        it(`answers ${testCase.status} ${testCase.code} for ${testCase.name}, naming the part`, async () => {
          const before = fake.requests.length;
          const response = await postChat(vision.url, { messages: [imageMessage(await testCase.url())] });
          expect(response.status).toBe(testCase.status);
          const { error } = expectErrorBody(await response.json(), testCase.code);
          expect(error.param).toBe("messages[0].content[1]");
          expect(error.message).toContain("messages[0].content[1]");
          if (testCase.message !== undefined) expect(error.message).toMatch(testCase.message);
          expect(fake.requests.length).toBe(before);
        });
      }

      it("answers 413 image_too_large for an image over vision.maxInputMb", async () => {
        const response = await postChat(small.url, { messages: [imageMessage(dataUrl(png))] });
        expect(png.length).toBeGreaterThan(0.05 * 2 ** 20);
        expect(response.status).toBe(413);
        const { error } = expectErrorBody(await response.json(), "image_too_large");
        expect(error.param).toBe("messages[0].content[1]");
        expect(error.message).toMatch(/maxInputMb/);
      });

      it("answers 400 for a body too large even with room for an image", async () => {
        const limit = 0.05 * 2 ** 20 * (4 / 3) + 1024 * 1024;
        const response = await postChat(small.url, {
          messages: [imageMessage(`data:image/png;base64,${"A".repeat(Math.ceil(limit))}`)],
        });
        expect(response.status).toBe(413);
        expectErrorBody(await response.json(), "payload_too_large");
      });

      it("still answers 413 for text over server.bodyLimitKb beside a small image", async () => {
        const response = await postChat(vision.url, {
          messages: [imageMessage(dataUrl(Buffer.from("tiny")), "x".repeat(1100 * 1024))],
        });
        expect(response.status).toBe(413);
        const { error } = expectErrorBody(await response.json(), "payload_too_large");
        expect(error.message).toMatch(/without its images.*bodyLimitKb/);
      });

      it("refuses more images than vision.maxImages (8), naming the first over, before decoding any", async () => {
        const before = fake.requests.length;
        // Bad base64: had any been decoded, the answer would be image_invalid.
        const images = Array.from({ length: 9 }, () => ({
          type: "image_url",
          image_url: { url: "data:image/png;base64,iVBO@@@@" },
        }));
        const response = await postChat(vision.url, {
          messages: [{ role: "user", content: [{ type: "text", text: "¿Cuál es distinta?" }, ...images] }],
        });
        expect(response.status).toBe(400);
        const { error } = expectErrorBody(await response.json(), "invalid_request");
        expect(error.param).toBe("messages[0].content[9]");
        expect(error.message).toMatch(/9 images, over vision\.maxImages \(8\)/);
        expect(fake.requests.length).toBe(before);
      });

      it("refuses images outside user messages", async () => {
        for (const role of ["system", "developer", "assistant"]) {
          const response = await postChat(vision.url, {
            messages: [
              { role, content: [{ type: "image_url", image_url: { url: dataUrl(png) } }] },
              { role: "user", content: "hola" },
            ],
          });
          expect(response.status).toBe(400);
          const { error } = expectErrorBody(await response.json(), "invalid_request");
          expect(error.param).toBe("messages[0].content[0]");
          expect(error.message).toMatch(/only user messages/);
        }
      });

      it("refuses the string shorthand for image_url, which OpenAI's spec does not have", async () => {
        const response = await postChat(vision.url, {
          messages: [{ role: "user", content: [{ type: "image_url", image_url: dataUrl(png) }] }],
        });
        expect(response.status).toBe(400);
        const { error } = expectErrorBody(await response.json(), "invalid_request");
        expect(error.param).toMatch(/^messages\[0\]\.content/);
      });

      it("refuses a skill with images (skills read text only)", async () => {
        const response = await postChat(vision.url, {
          skill: "json_extract",
          messages: [imageMessage(dataUrl(png))],
        });
        expect(response.status).toBe(400);
        expect(expectErrorBody(await response.json(), "invalid_request").error.param).toBe("skill");
      });

      it("answers a streaming request with a bad image with a 400, not a broken stream", async () => {
        const response = await postChat(vision.url, {
          stream: true,
          messages: [imageMessage(dataUrl(Buffer.from("GIF89a but not really")))],
        });
        expect(response.status).toBe(400);
        expect(response.headers.get("content-type")).toMatch(/application\/json/);
        expectErrorBody(await response.json(), "image_invalid");
      });
    });
  });
});

describe("cli", () => {
  describe("ask --image", () => {
    let dataDir: string;
    const runCli = createCliRunner(() => dataDir);
    beforeAll(async () => {
      dataDir = await mkdtemp(path.join(os.tmpdir(), "sarai-cli-vision-"));
      await writeFile(path.join(dataDir, "photo.jpg"), jpeg);
      await writeFile(path.join(dataDir, "notes.png"), "not a picture at all\n");
      await writeFile(
        path.join(dataDir, "sarai.yaml"),
        `models:\n  main:\n    remote:\n      baseUrl: ${fake.baseUrl}\n      model: fake-vision\n      vision: true\n`,
      );
    });
    afterAll(() => rm(dataDir, { recursive: true, force: true }));

    it("exits 2 naming a missing file", async () => {
      const result = await runCli(["-c", "sarai.yaml", "ask", "--image", "missing.png", "¿qué es?"]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("missing.png");
      expectNoStackTrace(result);
    });

    it("exits 1 with IMAGE_INVALID for a file that is not an image", async () => {
      const result = await runCli(["-c", "sarai.yaml", "ask", "--image", "notes.png", "¿qué es?"]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/IMAGE_INVALID.*notes\.png/);
      expectNoStackTrace(result);
    });

    it("sends the image to a remote vision model and prints the answer", async () => {
      const before = fake.requests.length;
      const result = await runCli([
        "-c",
        "sarai.yaml",
        "ask",
        "--image",
        "photo.jpg",
        "--no-memory",
        "¿qué es?",
      ]);
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect(result.stdout.trim()).toBe(defaultScript.pieces.join(""));
      expect(fake.requests.length).toBe(before + 1);
      const body = fake.requests.at(-1)?.body as { messages: { content: unknown[] }[] };
      expect(body.messages.at(-1)?.content[0]).toEqual({ type: "text", text: "¿qué es?" });
      await expectWebpWithin512(receivedImages()[0] as Buffer);
    });
  });
});
