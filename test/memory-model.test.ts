import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { normalizeRelation } from "../src/memory/index.js";
import { startTestServer, type TestServer } from "./api-helpers.js";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ listen: false, memory: { extractor: "both" } });
});
afterAll(() => server.close());

describe("memory", () => {
  describe("model extraction on a generated model", () => {
    it("stays with the rules: a random-weight model's facts would be noise", async () => {
      const memory = server.app.memory;
      expect([memory?.extractor, memory?.hasModel]).toEqual(["rules", false]);
      const rules = memory!.extractRules("Vivo en Bilbao y mi perro se llama Toby.");
      const extracted = await memory!.extract("Vivo en Bilbao y mi perro se llama Toby.");
      expect(extracted.facts).toEqual(rules.facts);
      for (const fact of extracted.facts) {
        expect(normalizeRelation(fact.relation)).toBe(fact.relation);
        expect(fact.extractor).toBe("rules");
      }
    }, 120_000);

    it("stores the rule facts before answering, and nothing more after it", async () => {
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
      for (const fact of all) expect([fact.source, fact.extractor]).toEqual(["user_input", "rules"]);
    }, 120_000);
  });
});
