import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { normalizeRelation } from "../src/memory/index.js";
import { startTestServer, type TestServer } from "./api-helpers.js";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ listen: false, memory: { modelExtraction: true } });
});
afterAll(() => server.close());

describe("memory", () => {
  describe("model extraction on a generated model", () => {
    it("merges the model's schema-constrained facts with the rules' and never loses the rule facts", async () => {
      const memory = server.app.memory;
      expect(memory?.hasModel).toBe(true);
      const rules = memory!.extractRules("Vivo en Bilbao y mi perro se llama Toby.");
      const merged = await memory!.extract("Vivo en Bilbao y mi perro se llama Toby.");
      // The rule facts come first, unchanged in polarity; whatever the (random) model adds is well formed.
      expect(merged.facts.slice(0, rules.facts.length).map((f) => [f.subject, f.object, f.negated])).toEqual(
        rules.facts.map((f) => [f.subject, f.object, f.negated]),
      );
      for (const fact of merged.facts) {
        expect(fact.subject.trim()).not.toBe("");
        expect(fact.object.trim()).not.toBe("");
        expect(normalizeRelation(fact.relation)).toBe(fact.relation);
        expect(fact.confidence).toBeGreaterThan(0);
        expect(fact.confidence).toBeLessThanOrEqual(0.99);
      }
    }, 120_000);

    it("stores the rule facts before answering and the model's after, in the background", async () => {
      const response = await server.server.fastify.inject({
        method: "POST",
        url: "/v1/chat/completions",
        headers: { "content-type": "application/json" },
        payload: JSON.stringify({
          model: "sarai",
          messages: [{ role: "user", content: "I work at Siemens." }],
          max_tokens: 2,
          user: "model-user",
        }),
      });
      expect(response.statusCode).toBe(200);
      const store = server.app.memory!.store;
      expect(store.recall({ userId: "model-user", subject: "user" }).map((f) => f.object)).toEqual([
        "Siemens",
      ]);
      await server.app.turns.drain();
      const all = store.recall({ userId: "model-user" });
      expect(all.find((f) => f.object === "Siemens")?.confidence).toBe(0.9);
      for (const fact of all) expect(fact.source).toBe("user_input");
    }, 120_000);
  });
});
