import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTestModel, getTestLlama } from "../../test/models.js";
import { EmbeddedBackend } from "./embedded-backend.js";
import { ModelPool } from "./model-pool.js";
import type { ChatRequest } from "./types.js";

const never = new AbortController().signal;

describe("inference", () => {
  describe("token confidence", () => {
    let pool: ModelPool;
    let backend: EmbeddedBackend;

    beforeAll(async () => {
      pool = new ModelPool({
        roles: { main: { file: await ensureTestModel() } },
        threads: 1,
        batchSize: 512,
        contextSize: 1024,
        sequences: 1,
        ramBudgetBytes: 2 * 2 ** 30,
        llama: await getTestLlama(),
      });
      backend = new EmbeddedBackend({ pool });
    });
    afterAll(async () => {
      await pool.dispose();
    });

    const greedy: ChatRequest = {
      messages: [{ role: "user", content: "Tell me about the weather in Vigo." }],
      sampling: { temperature: 0, maxTokens: 40 },
    };

    it("decodes the same greedy text through its own loop and reports one probability per token", async () => {
      const plain = await backend.chat(greedy, never);
      const scored = await backend.chat({ ...greedy, tokenProbabilities: true }, never);
      expect(plain.tokenConfidence).toBeUndefined();
      expect(scored.text).toBe(plain.text);
      expect(scored.usage).toEqual(plain.usage);
      const confidence = scored.tokenConfidence;
      expect(confidence?.tokens).toBe(plain.usage.completionTokens);
      expect(confidence?.mean).toBeGreaterThan(0);
      expect(confidence?.mean).toBeLessThanOrEqual(1);
      expect(confidence?.min).toBeLessThanOrEqual(confidence?.geometricMean ?? Number.NaN);
      expect(confidence?.geometricMean).toBeLessThanOrEqual((confidence?.mean ?? 0) + 1e-9);
    });

    it("gives sampled answers their probabilities too, and the same text for the same seed", async () => {
      const request: ChatRequest = {
        ...greedy,
        sampling: { seed: 3, maxTokens: 32 },
        tokenProbabilities: true,
      };
      const a = await backend.chat(request, never);
      const b = await backend.chat(request, never);
      expect(b.text).toBe(a.text);
      expect(a.tokenConfidence?.tokens).toBe(a.usage.completionTokens);
      expect(a.tokenConfidence?.mean).toBeGreaterThan(0);
    });

    it("leaves confidence out under a grammar (LlamaChat decodes it)", async () => {
      const response = await backend.chat(
        {
          ...greedy,
          jsonSchema: { type: "object", properties: { a: { type: "boolean" } }, required: ["a"] },
          tokenProbabilities: true,
        },
        never,
      );
      expect(response.json).toMatchObject({ a: expect.any(Boolean) as unknown });
      expect(response.tokenConfidence).toBeUndefined();
    });

    it("streams the own loop's text in pieces that add up to the answer", async () => {
      let streamed = "";
      let done: string | undefined;
      for await (const chunk of backend.chatStream({ ...greedy, tokenProbabilities: true }, never)) {
        if (chunk.type === "delta") streamed += chunk.text;
        else done = chunk.response.text;
      }
      expect(streamed).toBe(done);
      expect(done).toBe((await backend.chat(greedy, never)).text);
    });
  });
});
