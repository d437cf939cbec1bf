import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Fact } from "../src/memory/index.js";
import { createLoopbackSuggester } from "../src/proactive/index.js";
import { isAppError } from "../src/shared/index.js";
import {
  findClosedPort,
  sendError,
  sendJson,
  startFakeOpenAiServer,
  type FakeOpenAiServer,
} from "./fake-openai-server.js";

const now = Date.UTC(2026, 10, 24, 10);
const fact: Fact = {
  id: 7,
  userId: "ana",
  subject: "Lucía",
  relation: "birthday",
  object: "26 de noviembre",
  negated: false,
  confidence: 0.95,
  source: "manual",
  messageId: null,
  when: null,
  mentions: 1,
  pinned: false,
  createdAt: now - 86_400_000,
  updatedAt: now - 86_400_000,
  validFrom: now - 86_400_000,
  validTo: null,
  supersededBy: null,
};
const input = { userId: "ana", facts: [fact], now };

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (isAppError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error("expected the suggestion to fail");
}

describe("proactive", () => {
  describe("loopback suggester", () => {
    let fake: FakeOpenAiServer;
    beforeAll(async () => {
      fake = await startFakeOpenAiServer();
    });
    afterAll(async () => {
      await fake.close();
    });

    it("asks the server's chat completions with the key, a short max_tokens and a user that is not the one idle", async () => {
      fake.handle = (_request, res) =>
        sendJson(res, 200, {
          id: "chatcmpl-1",
          object: "chat.completion",
          choices: [{ index: 0, message: { role: "assistant", content: "  ¿Preparas algo para Lucía?\n" } }],
        });
      const suggester = createLoopbackSuggester({ serverUrl: fake.origin, apiKey: "k-123" });
      const text = await suggester.suggest(input, new AbortController().signal);
      expect(text).toBe("¿Preparas algo para Lucía?");
      const sent = fake.requests.at(-1);
      expect(sent).toMatchObject({ method: "POST", path: "/v1/chat/completions" });
      expect(sent?.headers.authorization).toBe("Bearer k-123");
      const body = sent?.body as { user?: string; max_tokens: number; messages: { content: string }[] };
      expect(body).toMatchObject({ user: "sarai-loop", max_tokens: 96 });
      expect(body.messages[1]?.content).toContain("Lucía");

      // A key bound to a user acts as that user whatever is sent: then no `user` at all.
      await createLoopbackSuggester({ serverUrl: fake.origin, user: undefined }).suggest(
        input,
        new AbortController().signal,
      );
      expect(fake.requests.at(-1)?.body).not.toHaveProperty("user");
      expect(fake.requests.at(-1)?.headers.authorization).toBeUndefined();
    });

    it("fails with the server's status and message, and on an empty answer", async () => {
      fake.handle = (_request, res) => sendError(res, 503, { message: "the model is loading", code: "x" });
      const suggester = createLoopbackSuggester({ serverUrl: fake.origin });
      const error = await failure(suggester.suggest(input, new AbortController().signal));
      expect(error.code).toBe("UPSTREAM_UNAVAILABLE");
      expect(error.message).toContain("503: the model is loading");

      fake.handle = (_request, res) => sendJson(res, 200, { choices: [{ message: { content: "  " } }] });
      expect((await failure(suggester.suggest(input, new AbortController().signal))).code).toBe(
        "OUTPUT_INVALID",
      );
    });

    it("asks again when a sample is empty, and fails after three empty ones", async () => {
      let calls = 0;
      fake.handle = (_request, res) => {
        calls += 1;
        sendJson(res, 200, {
          choices: [{ message: { content: calls < 3 ? "" : "Mañana es el cumpleaños de Lucía." } }],
        });
      };
      const suggester = createLoopbackSuggester({ serverUrl: fake.origin });
      expect(await suggester.suggest(input, new AbortController().signal)).toBe(
        "Mañana es el cumpleaños de Lucía.",
      );
      expect(calls).toBe(3);

      calls = 0;
      fake.handle = (_request, res) => {
        calls += 1;
        sendJson(res, 200, { choices: [{ message: { content: " " } }] });
      };
      expect((await failure(suggester.suggest(input, new AbortController().signal))).code).toBe(
        "OUTPUT_INVALID",
      );
      expect(calls).toBe(3);
    });

    it("gives up after its timeout, and says so when nothing listens", async () => {
      fake.handle = () => new Promise<void>(() => undefined);
      const slow = createLoopbackSuggester({ serverUrl: fake.origin, timeoutMs: 200 });
      const started = Date.now();
      const error = await failure(slow.suggest(input, new AbortController().signal));
      expect(error.code).toBe("UPSTREAM_TIMEOUT");
      expect(Date.now() - started).toBeLessThan(5_000);

      const closed = createLoopbackSuggester({ serverUrl: `http://127.0.0.1:${await findClosedPort()}` });
      const refused = await failure(closed.suggest(input, new AbortController().signal));
      expect(refused).toMatchObject({ code: "UPSTREAM_UNAVAILABLE" });
      expect(refused.message).toContain("ECONNREFUSED");
    });

    it("stops when the loop aborts the run", async () => {
      fake.handle = () => new Promise<void>(() => undefined);
      const controller = new AbortController();
      const pending = createLoopbackSuggester({ serverUrl: fake.origin }).suggest(input, controller.signal);
      setTimeout(() => controller.abort(new Error("the loop is stopping")), 50);
      // The run's reason, not a made-up server failure.
      await expect(pending).rejects.toThrow("the loop is stopping");
    });
  });
});
