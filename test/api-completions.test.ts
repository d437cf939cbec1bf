import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./api-helpers.js";

let ts: TestServer;
let client: OpenAI;

beforeAll(async () => {
  ts = await startTestServer({ sequences: 2 });
  client = new OpenAI({ baseURL: `${ts.url}/v1`, apiKey: "none", maxRetries: 0 });
});
afterAll(async () => {
  await ts.close();
});

describe("api", () => {
  describe("POST /v1/embeddings", () => {
    it("returns one deterministic vector per input, in order, with usage", async () => {
      const first = await client.embeddings.create({ model: ts.modelId, input: ["hola", "adiós", "hola"] });
      expect(first.data.map((d) => d.index)).toEqual([0, 1, 2]);
      const [a, b, c] = first.data.map((d) => d.embedding);
      // The test model's embedding length.
      expect(a).toHaveLength(64);
      expect(a?.every((x) => Number.isFinite(x))).toBe(true);
      expect(c).toEqual(a);
      expect(b).not.toEqual(a);
      expect(first.usage.prompt_tokens).toBe(Buffer.byteLength("holaadióshola"));
      const single = await client.embeddings.create({ model: ts.modelId, input: "hola" });
      expect(single.data[0]?.embedding).toEqual(a);
    });

    it("refuses an input longer than the context, naming it", async () => {
      const error = await client.embeddings
        .create({ model: ts.modelId, input: ["ok", "x".repeat(5000)] })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect((error as InstanceType<typeof OpenAI.BadRequestError>).code).toBe("context_overflow");
      expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("input[1]");
    });
  });

  describe("POST /v1/completions", () => {
    it("continues a prompt, the same for the same seed, streamed or not", async () => {
      const request = { model: ts.modelId, prompt: "Había una vez", seed: 9, max_tokens: 12 };
      const one = await client.completions.create(request);
      const two = await client.completions.create(request);
      expect(one.choices[0]?.text.length).toBeGreaterThan(0);
      expect(two.choices[0]?.text).toBe(one.choices[0]?.text);
      expect(one.usage?.prompt_tokens).toBe(Buffer.byteLength("Había una vez"));
      expect(one.usage?.completion_tokens).toBeLessThanOrEqual(12);
      let streamed = "";
      for await (const chunk of await client.completions.create({ ...request, stream: true })) {
        streamed += chunk.choices[0]?.text ?? "";
      }
      expect(streamed).toBe(one.choices[0]?.text);
    });

    it("refuses what it cannot do with a 400 naming the field", async () => {
      const error = await client.completions
        .create({ model: ts.modelId, prompt: ["a", "b"], max_tokens: 2 })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("prompt");
    });
  });
});
