import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./api-helpers.js";

interface Chunk {
  choices: { finish_reason: string | null }[];
  sarai?: { memory?: { recalled: number[]; stored: number[] } };
}

describe("api", () => {
  describe("streamed chat and memory", () => {
    let ts: TestServer;
    beforeAll(async () => {
      ts = await startTestServer({ listen: false });
    }, 120_000);
    afterAll(() => ts.close());

    const stream = async (user: string, content: string): Promise<Chunk[]> => {
      const response = await ts.server.fastify.inject({
        method: "POST",
        url: "/v1/chat/completions",
        payload: {
          model: ts.modelId,
          messages: [{ role: "user", content }],
          max_tokens: 3,
          temperature: 0,
          stream: true,
          user,
        },
      });
      expect(response.statusCode).toBe(200);
      const events = response.body
        .split("\n\n")
        .map((event) => event.replace(/^data: /, ""))
        .filter((data) => data !== "" && data !== "[DONE]");
      return events.map((data) => JSON.parse(data) as Chunk);
    };

    it("puts the facts recalled and stored on the final chunk, as the plain response does", async () => {
      const told = await stream("ines", "I work at Siemens.");
      const last = told.find((chunk) => chunk.choices[0]?.finish_reason != null);
      const stored = ts.app.memory?.store.recall({ userId: "ines", limit: 10 }).map((fact) => fact.id) ?? [];
      expect(stored).toHaveLength(1);
      expect(last?.sarai?.memory).toEqual({ recalled: [], stored });
      // Only the final chunk carries it.
      expect(told.filter((chunk) => chunk.sarai?.memory !== undefined)).toHaveLength(1);

      const asked = await stream("ines", "Where does the user work? Siemens?");
      const answer = asked.find((chunk) => chunk.choices[0]?.finish_reason != null);
      expect(answer?.sarai?.memory?.recalled).toEqual(stored);
    });
  });
});
