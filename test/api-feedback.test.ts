import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectErrorBody, startTestServer, type TestServer } from "./api-helpers.js";

describe("api", () => {
  describe("feedback", () => {
    let ts: TestServer;
    beforeAll(async () => {
      ts = await startTestServer({
        listen: false,
        server: { apiKeys: ["sk-admin-0123456789abcdef", { key: "sk-ana-0123456789abcdef", user: "ana" }] },
      });
    }, 120_000);
    afterAll(() => ts.close());

    const call = async (method: "GET" | "POST" | "DELETE", url: string, key: string, payload?: unknown) => {
      const response = await ts.server.fastify.inject({
        method,
        url,
        headers: { authorization: `Bearer ${key}` },
        ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
      });
      return { status: response.statusCode, body: response.json<Record<string, unknown>>() };
    };
    const ana = "sk-ana-0123456789abcdef";
    const admin = "sk-admin-0123456789abcdef";

    it("stores a rating with its correction for the key's user, and lists only that user's", async () => {
      const chat = await ts.server.fastify.inject({
        method: "POST",
        url: "/v1/chat/completions",
        headers: { authorization: `Bearer ${ana}` },
        payload: { model: ts.modelId, max_tokens: 4, messages: [{ role: "user", content: "¿2+2?" }] },
      });
      const completion = chat.json<{ id: string; choices: { message: { content: string } }[] }>();
      const answer = completion.choices[0]?.message.content ?? "";
      const created = await call("POST", "/v1/feedback", ana, {
        rating: "down",
        prompt: "¿2+2?",
        answer,
        correction: "4",
        response_id: completion.id,
        model: ts.modelId,
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        object: "feedback",
        user: "ana",
        rating: "down",
        correction: "4",
        answer,
        response_id: completion.id,
      });
      // The learning loop's view: the store holds it as written.
      expect(ts.app.feedback?.since(0)).toMatchObject([{ userId: "ana", rating: "down", correction: "4" }]);

      await call("POST", "/v1/feedback", admin, {
        rating: "up",
        prompt: "hola",
        answer: "hola",
        user: "bob",
      });
      const mine = await call("GET", "/v1/feedback", ana);
      expect((mine.body["data"] as { user: string }[]).map((item) => item.user)).toEqual(["ana"]);
      const bobs = await call("GET", "/v1/feedback?user=bob&rating=up", admin);
      expect(bobs.body["data"]).toHaveLength(1);
      // Ana's key cannot act as bob.
      expect((await call("GET", "/v1/feedback?user=bob", ana)).status).toBe(403);
    }, 60_000);

    it("keeps the conversation, conversation id and adapter behind a rating and lists them", async () => {
      const messages = [
        { role: "system", content: "Eres SARAi, una asistente." },
        { role: "user", content: "What is the capital of Peru?" },
        { role: "assistant", content: "Lima." },
      ];
      const created = await call("POST", "/v1/feedback", ana, {
        rating: "up",
        prompt: "¿Y la de Chile?",
        answer: "Santiago.",
        messages,
        conversation_id: "conv-42",
        adapter: "lora-ana-0003",
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ messages, conversation_id: "conv-42", adapter: "lora-ana-0003" });
      const listed = (await call("GET", "/v1/feedback?limit=1", ana)).body["data"] as Record<
        string,
        unknown
      >[];
      expect(listed[0]).toMatchObject({
        id: created.body["id"],
        messages,
        conversation_id: "conv-42",
        adapter: "lora-ana-0003",
      });
      const bare = await call("POST", "/v1/feedback", ana, { rating: "up", prompt: "p", answer: "a" });
      expect(bare.body).toMatchObject({ messages: null, conversation_id: null, adapter: null });
    });

    it("refuses bad messages, conversation ids and adapters naming the field", async () => {
      const post = (extra: Record<string, unknown>) =>
        call("POST", "/v1/feedback", ana, { rating: "up", prompt: "p", answer: "a", ...extra });
      const cases: [Record<string, unknown>, string][] = [
        [{ messages: [{ role: "tool", content: "x" }] }, "messages[0].role"],
        [{ messages: [{ role: "user", content: "ok" }, { role: "user" }] }, "messages[1].content"],
        [{ messages: [{ role: "user", content: "x", name: "ana" }] }, "messages[0]"],
        [{ messages: "hola" }, "messages"],
        [{ messages: Array.from({ length: 201 }, () => ({ role: "user", content: "x" })) }, "messages"],
        [{ messages: [{ role: "user", content: "x".repeat(100_001) }] }, "messages[0].content"],
        [{ conversation_id: "" }, "conversation_id"],
        [{ adapter: 7 }, "adapter"],
      ];
      for (const [extra, param] of cases) {
        const response = await post(extra);
        expect(response.status, param).toBe(400);
        expect(expectErrorBody(response.body).error.param).toBe(param);
      }
      expect(
        (await post({ messages: Array.from({ length: 200 }, () => ({ role: "user", content: "x" })) }))
          .status,
      ).toBe(201);
    });

    it("refuses bad feedback naming the field, and deletes only the user's own", async () => {
      const bad = await call("POST", "/v1/feedback", ana, { rating: "meh", prompt: "p", answer: "a" });
      expect(bad.status).toBe(400);
      expect(expectErrorBody(bad.body).error.param).toBe("rating");
      const upWithFix = await call("POST", "/v1/feedback", ana, {
        rating: "up",
        prompt: "p",
        answer: "a",
        correction: "b",
      });
      expect(upWithFix.status).toBe(400);
      expect(expectErrorBody(upWithFix.body).error.param).toBe("correction");
      const extra = await call("POST", "/v1/feedback", ana, { rating: "up", prompt: "p", answer: "a", x: 1 });
      expect(extra.status).toBe(400);

      const bobs = await call("POST", "/v1/feedback", admin, {
        rating: "up",
        prompt: "p",
        answer: "a",
        user: "bob",
      });
      const id = Number(bobs.body["id"]);
      expect((await call("DELETE", `/v1/feedback/${id}`, ana)).status).toBe(404);
      expect((await call("DELETE", `/v1/feedback/${id}?user=bob`, admin)).status).toBe(200);
      expect((await call("DELETE", `/v1/feedback/${id}?user=bob`, admin)).status).toBe(404);
    });
  });
});
