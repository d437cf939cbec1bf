import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "../src/api/index.js";
import { createApp, type App } from "../src/app.js";
import { loadConfig } from "../src/config/index.js";
import { createSilentLogger } from "../src/shared/index.js";
import { expectErrorBody, startTestServer, type TestServer } from "./api-helpers.js";
import { startFakeOpenAiServer, type FakeOpenAiServer } from "./fake-openai-server.js";
import { getTestLlama } from "./models.js";

const keyOne = "limits-key-one-0001";
const keyTwo = "limits-key-two-0002";
const keyOwn = "limits-key-own-0003";
const keyFree = "limits-key-free-0004";

function get(url: string, key?: string): Promise<Response> {
  return fetch(url, key === undefined ? {} : { headers: { authorization: `Bearer ${key}` } });
}

function postJson(url: string, body: unknown, key?: string): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
    },
    body: JSON.stringify(body),
  });
}

/** Sends `count` requests, `batch` at a time, and returns their statuses in order. */
async function burst(count: number, batch: number, send: () => Promise<Response>): Promise<number[]> {
  const statuses: number[] = [];
  for (let sent = 0; sent < count; sent += batch) {
    const responses = await Promise.all(
      Array.from({ length: Math.min(batch, count - sent) }, async () => {
        const response = await send();
        await response.arrayBuffer();
        return response.status;
      }),
    );
    statuses.push(...responses);
  }
  return statuses;
}

describe("limits", () => {
  describe("rate limits with API keys", () => {
    let ts: TestServer;

    beforeAll(async () => {
      ts = await startTestServer({
        server: {
          rateLimitPerMinute: 5,
          apiKeys: [
            keyOne,
            keyTwo,
            { key: keyOwn, rateLimitPerMinute: 2 },
            { key: keyFree, rateLimitPerMinute: 0 },
          ],
        },
      });
      // /ready answers 200 only with the main model loaded.
      await ts.app.pool.load("main");
    });
    afterAll(async () => {
      await ts.close();
    });

    it("answers a burst from one key with 429, Retry-After and an OpenAI error, while probes keep answering", async () => {
      const statuses = await burst(5, 5, () => get(`${ts.url}/v1/models`, keyOne));
      expect(statuses).toEqual([200, 200, 200, 200, 200]);
      const refused = await get(`${ts.url}/v1/models`, keyOne);
      expect(refused.status).toBe(429);
      const retryAfter = Number(refused.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      const { error } = expectErrorBody(await refused.json(), "rate_limited");
      expect(error.type).toBe("rate_limit_error");
      expect(error.message).toMatch(/more than 5 requests per minute for this API key/);
      expect(error.message).toMatch(/server\.rateLimitPerMinute/);

      // The same key, over its limit, still gets probes and scrapes: far more of them than the limit.
      const probes = await Promise.all([
        burst(20, 10, () => get(`${ts.url}/metrics`, keyOne)),
        burst(20, 10, () => get(`${ts.url}/health`)),
        burst(20, 10, () => get(`${ts.url}/ready`, keyOne)),
        burst(5, 5, () => get(`${ts.url}/metrics?name[]=x`, keyOne)),
      ]);
      for (const statuses of probes) expect(new Set(statuses)).toEqual(new Set([200]));
      // And the key is still refused elsewhere.
      expect((await get(`${ts.url}/v1/models`, keyOne)).status).toBe(429);
    });

    it("counts a second key on its own", async () => {
      const statuses = await burst(5, 5, () => get(`${ts.url}/v1/models`, keyTwo));
      expect(statuses).toEqual([200, 200, 200, 200, 200]);
      expect((await get(`${ts.url}/v1/models`, keyTwo)).status).toBe(429);
    });

    it("applies a key's own rateLimitPerMinute, and none for a key whose limit is 0", async () => {
      expect(await burst(2, 2, () => get(`${ts.url}/v1/models`, keyOwn))).toEqual([200, 200]);
      const refused = await get(`${ts.url}/v1/models`, keyOwn);
      expect(refused.status).toBe(429);
      const { error } = expectErrorBody(await refused.json(), "rate_limited");
      expect(error.message).toMatch(/more than 2 requests per minute/);

      const free = await burst(40, 10, () => get(`${ts.url}/v1/models`, keyFree));
      expect(new Set(free)).toEqual(new Set([200]));
    });

    it("still answers 401 (not 429) for a wrong key, and never counts it against a real one", async () => {
      const wrong = await get(`${ts.url}/v1/models`, "limits-key-wrong-9999");
      expect(wrong.status).toBe(401);
      expectErrorBody(await wrong.json(), "unauthorized");
    });
  });

  describe("without API keys, on loopback", () => {
    it("does not limit local clients at the default rate limit (300 requests in a burst)", async () => {
      // The default server.rateLimitPerMinute (120) applies to keys; there are none here.
      const ts = await startTestServer({ server: { rateLimitPerMinute: 120 } });
      try {
        const statuses = await burst(300, 25, () => get(`${ts.url}/v1/models`));
        expect(statuses).toHaveLength(300);
        expect(new Set(statuses)).toEqual(new Set([200]));
      } finally {
        await ts.close();
      }
    });

    it("limits per client address when server.rateLimitWithoutKeys is on, probes exempt", async () => {
      const ts = await startTestServer({ server: { rateLimitPerMinute: 3, rateLimitWithoutKeys: true } });
      try {
        expect(await burst(3, 3, () => get(`${ts.url}/v1/models`))).toEqual([200, 200, 200]);
        const refused = await get(`${ts.url}/v1/models`);
        expect(refused.status).toBe(429);
        expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
        expectErrorBody(await refused.json(), "rate_limited");
        for (const route of ["/health", "/ready", "/metrics"]) {
          const statuses = await burst(6, 6, () => get(`${ts.url}${route}`));
          // /ready may be 503 (the model loads on first use); it is never 429.
          expect(statuses).not.toContain(429);
        }
      } finally {
        await ts.close();
      }
    });
  });

  describe("request size and count", () => {
    let ts: TestServer;

    beforeAll(async () => {
      ts = await startTestServer({ server: { bodyLimitKb: 32, maxMessages: 4 } });
    });
    afterAll(async () => {
      await ts.close();
    });

    it("answers 413 payload_too_large naming the limit for a body over server.bodyLimitKb", async () => {
      const big = "x".repeat(40 * 1024);
      const chat = await postJson(`${ts.url}/v1/chat/completions`, {
        model: ts.modelId,
        messages: [{ role: "user", content: big }],
      });
      expect(chat.status).toBe(413);
      const chatError = expectErrorBody(await chat.json(), "payload_too_large").error;
      expect(chatError.message).toMatch(/server\.bodyLimitKb \(32 KiB\)/);

      const embeddings = await postJson(`${ts.url}/v1/embeddings`, { model: ts.modelId, input: big });
      expect(embeddings.status).toBe(413);
      const embeddingsError = expectErrorBody(await embeddings.json(), "payload_too_large").error;
      expect(embeddingsError.message).toMatch(/limit of 32 KiB \(server\.bodyLimitKb/);
    });

    it("answers 400 naming messages for more messages than server.maxMessages", async () => {
      const messages = Array.from({ length: 5 }, (_, i) => ({
        role: i % 2 === 0 ? "user" : "assistant",
        content: `message ${i}`,
      }));
      const response = await postJson(`${ts.url}/v1/chat/completions`, { model: ts.modelId, messages });
      expect(response.status).toBe(400);
      const { error } = expectErrorBody(await response.json(), "invalid_request");
      expect(error.param).toBe("messages");
      expect(error.message).toMatch(/5 messages, over server\.maxMessages \(4\)/);

      const within = await postJson(`${ts.url}/v1/chat/completions`, {
        model: ts.modelId,
        messages: messages.slice(0, 3),
        max_tokens: 2,
      });
      expect(within.status).toBe(200);
    });

    it("answers 400 context_overflow naming messages and the token counts for a prompt over the context", async () => {
      // About 11 000 tokens (digits are tokens of their own) in 14 KiB: under the body limit, over the context.
      const long = Array.from({ length: 3000 }, (_, i) => String(i)).join(" ");
      expect(Buffer.byteLength(long)).toBeLessThan(32 * 1024);
      const response = await postJson(`${ts.url}/v1/chat/completions`, {
        model: ts.modelId,
        messages: [{ role: "user", content: long }],
        max_tokens: 8,
      });
      expect(response.status).toBe(400);
      const { error } = expectErrorBody(await response.json(), "context_overflow");
      expect(error.param).toBe("messages");
      const match = /the prompt needs (\d+) tokens plus room to answer, but the context holds (\d+)/.exec(
        error.message,
      );
      expect(match).not.toBeNull();
      expect(Number(match?.[1])).toBeGreaterThan(Number(match?.[2]));
      expect(Number(match?.[2])).toBe(1024);
    });
  });

  describe("image count", () => {
    let fake: FakeOpenAiServer;
    let app: App;
    let server: Server;
    let url: string;
    let dir: string;

    beforeAll(async () => {
      fake = await startFakeOpenAiServer();
      dir = await mkdtemp(path.join(os.tmpdir(), "sarai-limits-"));
      const { config } = loadConfig({
        env: { HOME: dir, SARAI_PATHS_DATA_DIR: dir },
        cwd: dir,
        overrides: {
          models: {
            main: { remote: { baseUrl: fake.baseUrl, model: "fake-vision", vision: true, retries: 0 } },
          },
          server: { port: 0 },
          inference: { threads: 1, sequences: 1, contextSize: 1024 },
          vision: { maxImages: 2 },
        },
      });
      app = await createApp({ config, logger: createSilentLogger(), llama: await getTestLlama() });
      server = await createServer({ app, logger: createSilentLogger() });
      url = await server.listen();
    });
    afterAll(async () => {
      await server.close();
      await app.dispose();
      await fake.close();
      await rm(dir, { recursive: true, force: true });
    });

    it("answers 400 naming the first image part over vision.maxImages, before any reaches the model", async () => {
      const before = fake.requests.length;
      const image = { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } };
      const response = await postJson(`${url}/v1/chat/completions`, {
        model: "fake-vision",
        messages: [{ role: "user", content: [{ type: "text", text: "compare" }, image, image, image] }],
      });
      expect(response.status).toBe(400);
      const { error } = expectErrorBody(await response.json(), "invalid_request");
      expect(error.param).toBe("messages[0].content[3]");
      expect(error.message).toMatch(/3 images, over vision\.maxImages \(2\)/);
      expect(fake.requests.length).toBe(before);
    });
  });
});
