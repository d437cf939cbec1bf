import net from "node:net";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer } from "../src/api/index.js";
import { createSilentLogger } from "../src/shared/index.js";
import {
  expectErrorBody,
  mainPoolStatus,
  metricValue,
  startTestServer,
  waitFor,
  type TestServer,
} from "./api-helpers.js";

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const greeting = [{ role: "user" as const, content: "Hola, ¿qué tal?" }];
/** With temperature 0 the slow test model never emits end-of-generation: it runs to max_tokens. */
const longGeneration = { model: "sarai", messages: [{ role: "user", content: "hi" }], temperature: 0 };

/** The official client; no retries, so a 429 or 5xx surfaces as the error the server sent. */
function createClient(url: string, apiKey = "unused"): OpenAI {
  return new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0, timeout: 30_000 });
}

function postJson(url: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    ...init,
  });
}

/** Whether a fresh TCP connection to the server's port is refused. */
function isConnectionRefused(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
  });
}

/** Calls `fn` and returns the `APIError` it rejects with; fails if it resolves or throws something else. */
async function catchApiError(fn: () => Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(OpenAI.APIError);
    return error as InstanceType<typeof OpenAI.APIError>;
  }
  throw new Error("expected the request to fail");
}

describe("api", () => {
  describe("with the official OpenAI client", () => {
    let ts: TestServer;
    let client: OpenAI;

    beforeAll(async () => {
      ts = await startTestServer();
      client = createClient(ts.url);
    });
    afterAll(async () => {
      await ts.close();
    });

    it("lists the served model", async () => {
      const models = [];
      for await (const model of client.models.list()) models.push(model);
      expect(models).toHaveLength(1);
      expect(models[0]).toMatchObject({ id: ts.modelId, object: "model", owned_by: "sarai" });
      expect(models[0]?.created).toBeGreaterThan(1_600_000_000);
    });

    it("answers the same text twice for the same seed, with consistent usage", async () => {
      const ask = () =>
        client.chat.completions.create({ model: ts.modelId, messages: greeting, seed: 11, max_tokens: 32 });
      const first = await ask();
      const second = await ask();
      const text = first.choices[0]?.message.content ?? "";
      expect(text.length).toBeGreaterThan(0);
      expect(second.choices[0]?.message.content).toBe(text);
      expect(first.object).toBe("chat.completion");
      expect(first.id).toMatch(/^chatcmpl-/);
      expect(first.model).toBe(ts.modelId);
      expect(first.choices).toHaveLength(1);
      expect(["stop", "length"]).toContain(first.choices[0]?.finish_reason);
      const usage = first.usage!;
      // The byte vocabulary makes at least one token per byte of the templated prompt.
      expect(usage.prompt_tokens).toBeGreaterThan(Buffer.byteLength(greeting[0]!.content));
      expect(usage.completion_tokens).toBeGreaterThan(0);
      expect(usage.completion_tokens).toBeLessThanOrEqual(32);
      expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
      expect(second.usage).toEqual(usage);
    });

    it("serves the model by its role name and by `sarai` too", async () => {
      for (const model of ["main", "sarai"]) {
        const response = await client.chat.completions.create({ model, messages: greeting, max_tokens: 2 });
        expect(response.model).toBe(ts.modelId);
      }
    });

    it("stops before a stop string and at max_completion_tokens", async () => {
      const base = { model: ts.modelId, messages: greeting, seed: 3 } as const;
      const full = await client.chat.completions.create({ ...base, max_completion_tokens: 48 });
      const text = full.choices[0]?.message.content ?? "";
      // Stop at the first ASCII letter that is not at the start: the same seed samples the same prefix.
      const index = [...text].findIndex((char, i) => i > 0 && /[a-z]/i.test(char));
      expect(index, `no letter to stop at in ${JSON.stringify(text)}`).toBeGreaterThan(0);
      const stop = [...text][index]!;
      const stopped = await client.chat.completions.create({ ...base, max_completion_tokens: 48, stop });
      expect(stopped.choices[0]?.message.content).toBe(text.slice(0, text.indexOf(stop)));
      expect(stopped.choices[0]?.finish_reason).toBe("stop");

      const short = await client.chat.completions.create({ ...base, max_completion_tokens: 3 });
      expect(short.usage?.completion_tokens).toBeLessThanOrEqual(3);
      expect(text.startsWith(short.choices[0]?.message.content ?? "?")).toBe(true);
    });

    it("streams deltas that concatenate to the non-streamed text, then a usage chunk", async () => {
      const request = { model: ts.modelId, messages: greeting, seed: 5, max_tokens: 40 } as const;
      const whole = await client.chat.completions.create(request);
      const stream = await client.chat.completions.create({
        ...request,
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = "";
      let contentChunks = 0;
      const finishReasons: string[] = [];
      const usageChunks: OpenAI.CompletionUsage[] = [];
      for await (const chunk of stream) {
        expect(chunk.object).toBe("chat.completion.chunk");
        expect(chunk.model).toBe(ts.modelId);
        const choice = chunk.choices[0];
        if (choice?.delta.content) {
          text += choice.delta.content;
          contentChunks += 1;
        }
        if (choice?.finish_reason) finishReasons.push(choice.finish_reason);
        if (chunk.usage) {
          expect(chunk.choices).toEqual([]);
          usageChunks.push(chunk.usage);
        }
      }
      expect(contentChunks).toBeGreaterThan(1);
      expect(text).toBe(whole.choices[0]?.message.content);
      expect(finishReasons).toEqual([whole.choices[0]?.finish_reason]);
      expect(usageChunks).toEqual([whole.usage]);
    });

    it("sends server-sent events ending in [DONE]", async () => {
      const response = await postJson(ts.url, {
        model: ts.modelId,
        messages: greeting,
        seed: 5,
        max_tokens: 8,
        stream: true,
      });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
      expect(response.headers.get("x-request-id")).toMatch(uuidPattern);
      const events = (await response.text()).split("\n\n").filter((event) => event !== "");
      expect(events.every((event) => event.startsWith("data: "))).toBe(true);
      expect(events.at(-1)).toBe("data: [DONE]");
      const first = JSON.parse(events[0]!.slice(6)) as OpenAI.ChatCompletionChunk;
      expect(first.choices[0]?.delta).toEqual({ role: "assistant", content: "" });
      // Without include_usage there is no usage chunk.
      expect(events.some((event) => event.includes('"usage":{'))).toBe(false);
    });

    it("returns JSON that parses and matches a json_schema on several seeds", async () => {
      const schema = {
        type: "object",
        properties: {
          city: { type: "string", maxLength: 10 },
          mood: { enum: ["calm", "busy"] },
          open: { type: "boolean" },
        },
        required: ["city", "mood", "open"],
        additionalProperties: false,
      };
      for (const seed of [1, 2, 3, 4]) {
        const response = await client.chat.completions.create({
          model: ts.modelId,
          messages: [{ role: "user", content: "Describe a place as JSON." }],
          seed,
          max_tokens: 120,
          response_format: { type: "json_schema", json_schema: { name: "place", strict: true, schema } },
        });
        const parsed = JSON.parse(response.choices[0]?.message.content ?? "") as Record<string, unknown>;
        expect(Object.keys(parsed).sort()).toEqual(["city", "mood", "open"]);
        expect(typeof parsed["city"]).toBe("string");
        expect([...(parsed["city"] as string)].length).toBeLessThanOrEqual(10);
        expect(["calm", "busy"]).toContain(parsed["mood"]);
        expect(typeof parsed["open"]).toBe("boolean");
      }
    });

    it("returns a JSON object in json_object mode, or a 502 naming max_tokens when it ran out", async () => {
      // Random weights rarely close the object in time; SARAi then refuses to return the broken JSON.
      let object: unknown;
      for (let seed = 1; seed <= 12 && object === undefined; seed++) {
        try {
          const response = await client.chat.completions.create({
            model: ts.modelId,
            messages: [{ role: "user", content: "Give me a JSON object." }],
            seed,
            max_tokens: 200,
            response_format: { type: "json_object" },
          });
          object = JSON.parse(response.choices[0]?.message.content ?? "");
        } catch (error) {
          expect(error).toBeInstanceOf(OpenAI.InternalServerError);
          expect(error).toMatchObject({ status: 502, code: "output_invalid", param: "max_tokens" });
        }
      }
      expect(object).toBeTypeOf("object");
      expect(object).not.toBeNull();
      expect(Array.isArray(object)).toBe(false);
    });

    it("raises NotFoundError with code model_not_found for an unknown model", async () => {
      const error = await catchApiError(() =>
        client.chat.completions.create(
          { model: "gpt-4o", messages: greeting },
          { headers: { "x-request-id": "trace-unknown-model" } },
        ),
      );
      expect(error).toBeInstanceOf(OpenAI.NotFoundError);
      expect(error).toMatchObject({
        status: 404,
        code: "model_not_found",
        param: "model",
        type: "invalid_request_error",
      });
      expect(error.message).toContain(ts.modelId);
      expect(error.requestID).toBe("trace-unknown-model");
    });

    it("raises BadRequestError naming param n for n = 2", async () => {
      const error = await catchApiError(() =>
        client.chat.completions.create({ model: ts.modelId, messages: greeting, n: 2 }),
      );
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect(error).toMatchObject({ status: 400, code: "invalid_request", param: "n" });
      expect(error.requestID).toMatch(uuidPattern);
    });

    it("refuses image parts for a local (text-only) model with a 400 naming the part", async () => {
      const error = await catchApiError(() =>
        client.chat.completions.create({
          model: ts.modelId,
          messages: [
            {
              role: "user",
              content: [
                { type: "text", text: "What is this?" },
                { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } },
              ],
            },
          ],
        }),
      );
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect(error).toMatchObject({ code: "vision_unsupported", param: "messages[0].content[1]" });
    });

    it("names the field and its wrong type rather than calling it missing", async () => {
      const response = await postJson(ts.url, { model: 5, messages: greeting });
      expect(response.status).toBe(400);
      const { error } = expectErrorBody(await response.json(), "invalid_request");
      expect(error.param).toBe("model");
      expect(error.message).not.toMatch(/required/);
      expect(error.message).toMatch(/string/);

      const missing = await postJson(ts.url, { messages: greeting });
      const body = expectErrorBody(await missing.json(), "invalid_request");
      expect(body.error).toMatchObject({ param: "model", message: "model: is required" });
    });

    describe("request ids", () => {
      it("echoes a valid x-request-id and generates one otherwise", async () => {
        const given = await fetch(`${ts.url}/health`, { headers: { "x-request-id": "client-trace_42:a.b" } });
        expect(given.headers.get("x-request-id")).toBe("client-trace_42:a.b");
        const generated = await fetch(`${ts.url}/health`);
        expect(generated.headers.get("x-request-id")).toMatch(uuidPattern);
        for (const bad of ["has spaces in it", "x".repeat(129), "semi;colon"]) {
          const replaced = await fetch(`${ts.url}/health`, { headers: { "x-request-id": bad } });
          expect(replaced.headers.get("x-request-id")).toMatch(uuidPattern);
        }
      });

      it("puts the request id on error responses", async () => {
        const notFound = await fetch(`${ts.url}/v1/nothing-here`, {
          headers: { "x-request-id": "trace-404" },
        });
        expect(notFound.status).toBe(404);
        expect(notFound.headers.get("x-request-id")).toBe("trace-404");
        expectErrorBody(await notFound.json(), "route_not_found");

        const invalid = await fetch(`${ts.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "{not json",
        });
        expect(invalid.status).toBe(400);
        expect(invalid.headers.get("x-request-id")).toMatch(uuidPattern);
        expectErrorBody(await invalid.json(), "invalid_request");
      });
    });

    describe("metrics", () => {
      it("counts requests by route label and observes time to first token", async () => {
        await client.chat.completions.create({ model: ts.modelId, messages: greeting, max_tokens: 4 });
        await fetch(`${ts.url}/v1/no-such-route-${Date.now()}`);
        const response = await fetch(`${ts.url}/metrics`);
        expect(response.status).toBe(200);
        expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
        const text = await response.text();
        const chats = metricValue(text, "sarai_http_requests_total", {
          route: "/v1/chat/completions",
          method: "POST",
          status: "200",
        });
        expect(chats).toBeGreaterThanOrEqual(10);
        expect(
          metricValue(text, "sarai_http_requests_total", { route: "/v1/models", status: "200" }),
        ).toBeGreaterThanOrEqual(1);
        expect(
          metricValue(text, "sarai_http_requests_total", { route: "/v1/chat/completions", status: "404" }),
        ).toBeGreaterThanOrEqual(1);
        // Unknown paths share one label, so scanners cannot blow up the series count.
        expect(metricValue(text, "sarai_http_requests_total", { route: "unmatched" })).toBeGreaterThanOrEqual(
          1,
        );
        expect(text).not.toContain("no-such-route");
        expect(
          metricValue(text, "sarai_time_to_first_token_seconds_count", { role: "main" }),
        ).toBeGreaterThanOrEqual(chats!);
        expect(metricValue(text, "sarai_generated_tokens_total", { role: "main" })).toBeGreaterThan(0);
        for (const line of text.split("\n").filter((l) => l !== "" && !l.startsWith("#"))) {
          expect(line).toMatch(/^sarai_/);
        }
        // Nothing in this suite may have been an unexpected server error.
        expect(metricValue(text, "sarai_http_requests_total", { status: "500" })).toBeUndefined();
      });
    });
  });

  describe("auth", () => {
    const key = "sarai-test-key-0001";
    let ts: TestServer;

    beforeAll(async () => {
      ts = await startTestServer({ server: { apiKeys: [key, "sarai-other-key-0002"] } });
    });
    afterAll(async () => {
      await ts.close();
    });

    it("answers 401 without a key", async () => {
      for (const route of ["/v1/models", "/ready", "/metrics"]) {
        const response = await fetch(`${ts.url}${route}`);
        expect(response.status, route).toBe(401);
        expect(response.headers.get("x-request-id")).toMatch(uuidPattern);
        const { error } = expectErrorBody(await response.json(), "unauthorized");
        expect(error.type).toBe("authentication_error");
      }
      const notBearer = await fetch(`${ts.url}/v1/models`, { headers: { authorization: `Basic ${key}` } });
      expect(notBearer.status).toBe(401);
    });

    it("answers 401 for a wrong key, through the client", async () => {
      for (const wrong of ["sarai-test-key-0000", `${key}x`, key.slice(0, -1)]) {
        const error = await catchApiError(() => createClient(ts.url, wrong).models.list());
        expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
        expect(error).toMatchObject({ status: 401, code: "unauthorized" });
      }
    });

    it("serves a right key", async () => {
      const models = await createClient(ts.url, key).models.list();
      expect(models.data.map((m) => m.id)).toEqual([ts.modelId]);
      const chat = await createClient(ts.url, "sarai-other-key-0002").chat.completions.create({
        model: ts.modelId,
        messages: greeting,
        max_tokens: 2,
      });
      expect(chat.choices[0]?.message.role).toBe("assistant");
      const lowerCase = await fetch(`${ts.url}/v1/models`, { headers: { authorization: `bearer ${key}` } });
      expect(lowerCase.status).toBe(200);
    });

    it("lets /health through without a key", async () => {
      const response = await fetch(`${ts.url}/health`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: "ok" });
    });
  });

  describe("rate limit", () => {
    let ts: TestServer;

    beforeAll(async () => {
      // Without keys (loopback), only server.rateLimitWithoutKeys limits by client address.
      ts = await startTestServer({ server: { rateLimitPerMinute: 3, rateLimitWithoutKeys: true } });
    });
    afterAll(async () => {
      await ts.close();
    });

    it("answers the 4th request in a minute with 429 rate_limited", async () => {
      const client = createClient(ts.url);
      for (let i = 0; i < 3; i++) await client.models.list();
      const error = await catchApiError(() => client.models.list());
      expect(error).toBeInstanceOf(OpenAI.RateLimitError);
      expect(error).toMatchObject({ status: 429, code: "rate_limited", type: "rate_limit_error" });
      expect(Number(error.headers?.get("retry-after"))).toBeGreaterThan(0);
      expect(error.headers?.get("x-request-id")).toMatch(uuidPattern);

      // Without auth configured, a made-up bearer token is no way around the limit.
      const raw = await fetch(`${ts.url}/v1/models`, { headers: { authorization: "Bearer made-up-key" } });
      expect(raw.status).toBe(429);
      const { error: body } = expectErrorBody(await raw.json(), "rate_limited");
      expect(body.message).toMatch(/3 requests per minute/);
      // Health checks are never limited.
      expect((await fetch(`${ts.url}/health`)).status).toBe(200);
    });

    it("counts each API key on its own when auth is on", async () => {
      const keys = ["sarai-rate-key-0001", "sarai-rate-key-0002"];
      const keyed = await startTestServer({ server: { rateLimitPerMinute: 2, apiKeys: keys } });
      try {
        const first = createClient(keyed.url, keys[0]);
        await first.models.list();
        await first.models.list();
        const error = await catchApiError(() => first.models.list());
        expect(error).toMatchObject({ status: 429, code: "rate_limited" });
        await createClient(keyed.url, keys[1]).models.list();
      } finally {
        await keyed.close();
      }
    });
  });

  describe("body limit", () => {
    let ts: TestServer;

    beforeAll(async () => {
      ts = await startTestServer({ server: { bodyLimitKb: 1 } });
    });
    afterAll(async () => {
      await ts.close();
    });

    it("answers 413 payload_too_large for a 4 KiB body", async () => {
      const response = await postJson(ts.url, {
        model: ts.modelId,
        messages: [{ role: "user", content: "x".repeat(4096) }],
      });
      expect(response.status).toBe(413);
      expect(response.headers.get("x-request-id")).toMatch(uuidPattern);
      expectErrorBody(await response.json(), "payload_too_large");
      // A body under the limit still gets through to validation.
      const small = await postJson(ts.url, { model: ts.modelId, messages: [] });
      expect(small.status).toBe(400);
      expectErrorBody(await small.json(), "invalid_request");
    });
  });

  describe("under load, on the slow model with one sequence", () => {
    let ts: TestServer;

    beforeAll(async () => {
      ts = await startTestServer({ slow: true, server: { maxQueue: 1 } });
      // Load the model now, so the tests below time generations, not the load.
      expect((await postJson(ts.url, { ...longGeneration, max_tokens: 1 })).status).toBe(200);
    });
    afterAll(async () => {
      await ts.close();
    });

    it("answers 429 queue_full with Retry-After when the queue is full, and /ready says so", async () => {
      const requests = [0, 1, 2].map(() =>
        postJson(ts.url, { ...longGeneration, max_tokens: 400 }).then(async (response) => ({
          status: response.status,
          retryAfter: response.headers.get("retry-after"),
          body: await response.json(),
        })),
      );
      let overloaded: {
        status: number;
        body: { components: Record<string, { status: string; detail: string }> };
      };
      await waitFor("/ready to report the overload", async () => {
        const response = await fetch(`${ts.url}/ready`);
        overloaded = { status: response.status, body: (await response.json()) as typeof overloaded.body };
        return overloaded.body.components["queue"]?.status === "degraded";
      });
      // Overloaded is degraded, not down: the server still takes requests.
      expect(overloaded!.status).toBe(200);
      expect(overloaded!.body.components["queue"]?.detail).toMatch(/overloaded: 1 requests waiting/);

      const results = await Promise.all(requests);
      expect(results.map((r) => r.status).sort()).toEqual([200, 200, 429]);
      const rejected = results.find((r) => r.status === 429)!;
      expect(rejected.retryAfter).toBe("2");
      const { error } = expectErrorBody(rejected.body, "queue_full");
      expect(error.type).toBe("rate_limit_error");
      for (const done of results.filter((r) => r.status === 200)) {
        expect(done.body).toMatchObject({ usage: { completion_tokens: 400 } });
      }
      const ready = (await (await fetch(`${ts.url}/ready`)).json()) as typeof overloaded.body;
      expect(ready.components["queue"]?.status).toBe("ok");
    });

    it("stops the generation and frees the sequence when a streaming client disconnects", async () => {
      const controller = new AbortController();
      const response = await postJson(
        ts.url,
        { ...longGeneration, max_tokens: 4000, stream: true },
        { signal: controller.signal },
      );
      expect(response.status).toBe(200);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let received = "";
      while (!received.includes('"content":"') || received.split("data: ").length < 3) {
        const { value, done } = await reader.read();
        if (done) break;
        received += decoder.decode(value, { stream: true });
      }
      expect(await mainPoolStatus(ts.app)).toEqual({ active: 1, waiting: 0 });
      const abortedAt = performance.now();
      controller.abort();
      // Uninterrupted, this generation would hold the only sequence for 10+ seconds.
      await waitFor("the aborted generation to free its sequence", async () => {
        return (await mainPoolStatus(ts.app)).active === 0;
      });
      const next = await postJson(ts.url, { ...longGeneration, max_tokens: 8 });
      expect(next.status).toBe(200);
      expect(await next.json()).toMatchObject({ usage: { completion_tokens: 8 } });
      expect(performance.now() - abortedAt).toBeLessThan(5_000);
      const metrics = await (await fetch(`${ts.url}/metrics`)).text();
      expect(metricValue(metrics, "sarai_queue_depth", { role: "main" })).toBe(0);
      expect(
        metricValue(metrics, "sarai_http_requests_total", { route: "/v1/chat/completions", status: "200" }),
      ).toBeGreaterThanOrEqual(4);
    });
  });

  describe("request timeout", () => {
    it("stops a generation that outlives server.requestTimeoutMs with 408 request_timeout", async () => {
      const ts = await startTestServer({ slow: true, server: { requestTimeoutMs: 1_000 } });
      try {
        const started = performance.now();
        const response = await postJson(ts.url, { ...longGeneration, max_tokens: 4000 });
        expect(response.status).toBe(408);
        const { error } = expectErrorBody(await response.json(), "request_timeout");
        expect(error.message).toMatch(/requestTimeoutMs \(1000 ms\)/);
        // Uninterrupted, the generation would have taken 10+ seconds.
        expect(performance.now() - started).toBeLessThan(6_000);
        await waitFor("the sequence to be freed", async () => (await mainPoolStatus(ts.app)).active === 0);
      } finally {
        await ts.close();
      }
    });

    it("reads a live time limit as each request arrives", async () => {
      const ts = await startTestServer({ slow: true });
      let limitMs = 120_000;
      const server = await createServer({
        app: ts.app,
        logger: createSilentLogger(),
        requestTimeoutMs: () => limitMs,
      });
      try {
        const url = await server.listen();
        const before = await postJson(url, { ...longGeneration, max_tokens: 8 });
        expect(before.status).toBe(200);
        limitMs = 1_000;
        const started = performance.now();
        const cut = await postJson(url, { ...longGeneration, max_tokens: 4000 });
        expect(cut.status).toBe(408);
        expect(expectErrorBody(await cut.json(), "request_timeout").error.message).toMatch(/\(1000 ms\)/);
        expect(performance.now() - started).toBeLessThan(6_000);
        await waitFor("the sequence to be freed", async () => (await mainPoolStatus(ts.app)).active === 0);
        limitMs = 120_000;
        const after = await postJson(url, { ...longGeneration, max_tokens: 8 });
        expect(after.status).toBe(200);
        expect(await after.json()).toMatchObject({ usage: { completion_tokens: 8 } });
      } finally {
        await server.close();
        await ts.close();
      }
    });
  });

  describe("graceful shutdown", () => {
    it("lets a request finish within the grace period and closes as soon as it has", async () => {
      const graceMs = 20_000;
      const ts = await startTestServer({ slow: true, server: { shutdownGraceMs: graceMs } });
      try {
        const inFlight = postJson(ts.url, { ...longGeneration, max_tokens: 120 });
        await waitFor("the generation to start", async () => (await mainPoolStatus(ts.app)).active === 1);
        const started = performance.now();
        await ts.server.close();
        // The client keeps its connection alive; the server must not wait for it to time out.
        expect(performance.now() - started).toBeLessThan(10_000);
        const response = await inFlight;
        expect(response.status).toBe(200);
        expect(await response.json()).toMatchObject({ usage: { completion_tokens: 120 } });
      } finally {
        await ts.close();
      }
    });

    it("aborts what is still running after the grace period, refuses new connections and closes", async () => {
      const graceMs = 1_500;
      const ts = await startTestServer({ slow: true, server: { shutdownGraceMs: graceMs } });
      try {
        const inFlight = postJson(ts.url, { ...longGeneration, max_tokens: 4000 }).then(
          async (response) => ({ status: response.status, body: await response.json() }),
          (error: unknown) => ({ status: 0, body: error }),
        );
        await waitFor(
          "the long generation to start",
          async () => (await mainPoolStatus(ts.app)).active === 1,
        );
        const started = performance.now();
        let closedAt: number | undefined;
        const closing = ts.server.close().then(() => (closedAt = performance.now()));

        await waitFor("the listener to close", () => isConnectionRefused(ts.url), 2_000);
        // Within the grace period the generation keeps running.
        expect(closedAt).toBeUndefined();
        expect((await mainPoolStatus(ts.app)).active).toBe(1);

        await closing;
        const elapsed = closedAt! - started;
        expect(elapsed).toBeGreaterThanOrEqual(graceMs - 50);
        // Uninterrupted, the generation would have taken 10+ seconds.
        expect(elapsed).toBeLessThan(graceMs + 5_000);
        const outcome = await inFlight;
        if (outcome.status !== 0) {
          expect(outcome.status).toBe(499);
          expectErrorBody(outcome.body, "aborted");
        }
        expect(await mainPoolStatus(ts.app)).toEqual({ active: 0, waiting: 0 });
        expect(await isConnectionRefused(ts.url)).toBe(true);
        // close() is idempotent.
        await ts.server.close();
      } finally {
        await ts.close();
      }
    });
  });
});
