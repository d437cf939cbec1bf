import { afterEach, describe, expect, it } from "vitest";
import { replyScripted, startFakeOpenAiServer } from "../../test/fake-openai-server.js";
import { RemoteBackend } from "./remote-backend.js";
import type { ChatRequest } from "./types.js";

const never = new AbortController().signal;
const question: ChatRequest = { messages: [{ role: "user", content: "hola" }], tokenProbabilities: true };
const script = { pieces: ["Ho", "la", "!"], logprobs: [Math.log(0.9), Math.log(0.5), Math.log(0.8)] };

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(logprobs: boolean) {
  const fake = await startFakeOpenAiServer();
  fake.handle = replyScripted(script);
  cleanups.push(() => fake.close());
  const backend = new RemoteBackend({ baseUrl: fake.baseUrl, model: "m", logprobs });
  cleanups.push(() => backend.dispose());
  return { fake, backend };
}

describe("inference", () => {
  describe("RemoteBackend token probabilities", () => {
    it("asks for logprobs when configured and the request wants them, streamed and not", async () => {
      const { fake, backend } = await setup(true);
      const response = await backend.chat(question, never);
      expect(response.text).toBe("Hola!");
      expect((fake.requests.at(-1)?.body as { logprobs?: boolean }).logprobs).toBe(true);
      expect(response.tokenConfidence?.tokens).toBe(3);
      expect(response.tokenConfidence?.mean).toBeCloseTo((0.9 + 0.5 + 0.8) / 3, 6);
      expect(response.tokenConfidence?.geometricMean).toBeCloseTo(Math.cbrt(0.9 * 0.5 * 0.8), 6);
      expect(response.tokenConfidence?.min).toBeCloseTo(0.5, 6);
    });

    it("sends no logprobs field unless configured (servers that refuse it keep working), nor when not asked", async () => {
      const off = await setup(false);
      const plain = await off.backend.chat(question, never);
      expect(off.fake.requests.at(-1)?.body).not.toHaveProperty("logprobs");
      expect(plain.tokenConfidence).toBeUndefined();
      const on = await setup(true);
      const unasked = await on.backend.chat({ ...question, tokenProbabilities: false }, never);
      expect(on.fake.requests.at(-1)?.body).not.toHaveProperty("logprobs");
      expect(unasked.tokenConfidence).toBeUndefined();
    });
  });
});
