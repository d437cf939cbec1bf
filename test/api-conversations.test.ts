import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveAuditPaths, tailAuditLog } from "../src/security/index.js";
import { expectErrorBody, startTestServer, waitFor, type TestServer } from "./api-helpers.js";

interface ConversationJson {
  id: string;
  object: string;
  user: string;
  title: string;
  message_count: number;
  created_at: string;
  updated_at: string;
  messages?: MessageJson[];
}

interface MessageJson {
  id: number;
  object: string;
  conversation_id: string;
  role: string;
  content: string;
  meta: Record<string, unknown> | null;
  created_at: string;
}

const admin = "sk-admin-0123456789abcdef";
const ana = "sk-ana-0123456789abcdef";
const bob = "sk-bob-0123456789abcdef";

describe("api", () => {
  describe("conversations", () => {
    let ts: TestServer;
    beforeAll(async () => {
      ts = await startTestServer({
        listen: false,
        server: {
          apiKeys: [admin, { key: ana, user: "ana" }, { key: bob, user: "bob" }],
        },
      });
    }, 120_000);
    afterAll(() => ts.close());

    const call = async <T = Record<string, unknown>>(
      method: "GET" | "POST" | "PATCH" | "DELETE",
      url: string,
      key: string,
      payload?: unknown,
    ) => {
      const response = await ts.server.fastify.inject({
        method,
        url,
        headers: { authorization: `Bearer ${key}` },
        ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
      });
      return { status: response.statusCode, body: response.json<T>() };
    };

    it("creates, lists, gets, renames and deletes a conversation of the key's user", async () => {
      const created = await call<ConversationJson>("POST", "/v1/conversations", ana, { title: "Lisboa" });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        object: "conversation",
        user: "ana",
        title: "Lisboa",
        message_count: 0,
        messages: [],
      });
      expect(Date.parse(created.body.created_at)).not.toBeNaN();
      const id = created.body.id;

      const untitled = await call<ConversationJson>("POST", "/v1/conversations", ana);
      expect(untitled.status).toBe(201);
      expect(untitled.body.title).toBe("New conversation");

      const user = await call<MessageJson>("POST", `/v1/conversations/${id}/messages`, ana, {
        role: "user",
        content: "¿Qué ver en Lisboa?",
      });
      expect(user.status).toBe(201);
      expect(user.body).toMatchObject({
        object: "conversation.message",
        conversation_id: id,
        role: "user",
        meta: null,
      });
      const meta = {
        model: ts.modelId,
        response_id: "chatcmpl-1",
        memory: { recalled: [3], stored: [4, 5] },
        feedback: "up",
      };
      const reply = await call<MessageJson>("POST", `/v1/conversations/${id}/messages`, ana, {
        role: "assistant",
        content: "Alfama y Belém.",
        meta,
      });
      expect(reply.body.meta).toEqual(meta);

      const list = await call<{ object: string; data: ConversationJson[] }>("GET", "/v1/conversations", ana);
      expect(list.body.object).toBe("list");
      expect(list.body.data.map((c) => [c.title, c.message_count])).toEqual([
        ["Lisboa", 2],
        ["New conversation", 0],
      ]);
      const found = await call<{ data: ConversationJson[] }>("GET", "/v1/conversations?q=bel%C3%A9m", ana);
      expect(found.body.data.map((c) => c.id)).toEqual([id]);
      const limited = await call<{ data: ConversationJson[] }>("GET", "/v1/conversations?limit=1", ana);
      expect(limited.body.data).toHaveLength(1);

      const got = await call<ConversationJson>("GET", `/v1/conversations/${id}`, ana);
      expect(got.body.messages?.map((m) => [m.role, m.content])).toEqual([
        ["user", "¿Qué ver en Lisboa?"],
        ["assistant", "Alfama y Belém."],
      ]);

      const renamed = await call<ConversationJson>("PATCH", `/v1/conversations/${id}`, ana, {
        title: "  Viaje a Lisboa  ",
      });
      expect(renamed.status).toBe(200);
      expect(renamed.body.title).toBe("Viaje a Lisboa");

      const deleted = await call("DELETE", `/v1/conversations/${id}`, ana);
      expect(deleted).toEqual({ status: 200, body: { id, object: "conversation", deleted: true } });
      expect((await call("GET", `/v1/conversations/${id}`, ana)).status).toBe(404);
    });

    it("truncates from a message for edit-and-resend and regenerate", async () => {
      const { body: talk } = await call<ConversationJson>("POST", "/v1/conversations", ana);
      const ids: number[] = [];
      for (const [role, content] of [
        ["user", "one"],
        ["assistant", "two"],
        ["user", "three"],
        ["assistant", "four"],
      ] as const) {
        const added = await call<MessageJson>("POST", `/v1/conversations/${talk.id}/messages`, ana, {
          role,
          content,
        });
        ids.push(added.body.id);
      }
      const cut = await call("DELETE", `/v1/conversations/${talk.id}/messages/${ids[1]}`, ana);
      expect(cut).toEqual({
        status: 200,
        body: { id: ids[1], object: "conversation.message", conversation_id: talk.id, deleted: 3 },
      });
      const got = await call<ConversationJson>("GET", `/v1/conversations/${talk.id}`, ana);
      expect(got.body.messages?.map((m) => m.content)).toEqual(["one"]);

      const gone = await call("DELETE", `/v1/conversations/${talk.id}/messages/${ids[3]}`, ana);
      expect(gone.status).toBe(404);
      expect(expectErrorBody(gone.body, "not_found").error.param).toBe("messageId");
    });

    it("answers 404 for another user's conversation, and never lists it", async () => {
      const { body: mine } = await call<ConversationJson>("POST", "/v1/conversations", ana, {
        title: "ana's secret plans",
      });
      const { body: message } = await call<MessageJson>(
        "POST",
        `/v1/conversations/${mine.id}/messages`,
        ana,
        { role: "user", content: "secret" },
      );
      const attempts = [
        await call("GET", `/v1/conversations/${mine.id}`, bob),
        await call("PATCH", `/v1/conversations/${mine.id}`, bob, { title: "taken" }),
        await call("POST", `/v1/conversations/${mine.id}/messages`, bob, { role: "user", content: "x" }),
        await call("DELETE", `/v1/conversations/${mine.id}/messages/${message.id}`, bob),
        await call("DELETE", `/v1/conversations/${mine.id}`, bob),
        await call("GET", "/v1/conversations/00000000-0000-0000-0000-000000000000", ana),
      ];
      for (const attempt of attempts) {
        expect(attempt.status).toBe(404);
        expectErrorBody(attempt.body, "not_found");
      }
      const bobs = await call<{ data: ConversationJson[] }>("GET", "/v1/conversations?q=secret", bob);
      expect(bobs.body.data).toEqual([]);
      // A bound key cannot name another user; an unbound one acts as the user it names.
      expect((await call("GET", "/v1/conversations?user=ana", bob)).status).toBe(403);
      const asAna = await call<ConversationJson>("GET", `/v1/conversations/${mine.id}?user=ana`, admin);
      expect(asAna.body.title).toBe("ana's secret plans");
      expect((await call("GET", `/v1/conversations/${mine.id}`, admin)).status).toBe(404);
      const still = await call<ConversationJson>("GET", `/v1/conversations/${mine.id}`, ana);
      expect(still.body.messages?.map((m) => m.content)).toEqual(["secret"]);
    });

    it("refuses bad input with a 400 naming the field", async () => {
      const { body: talk } = await call<ConversationJson>("POST", "/v1/conversations", ana);
      const messages = `/v1/conversations/${talk.id}/messages`;
      const cases: [string, Awaited<ReturnType<typeof call>>][] = [
        ["title", await call("POST", "/v1/conversations", ana, { title: "x".repeat(201) })],
        ["title", await call("POST", "/v1/conversations", ana, { title: "   " })],
        ["title", await call("PATCH", `/v1/conversations/${talk.id}`, ana, {})],
        ["role", await call("POST", messages, ana, { role: "tool", content: "x" })],
        ["content", await call("POST", messages, ana, { role: "user" })],
        ["content", await call("POST", messages, ana, { role: "user", content: "é".repeat(512 * 1024 + 1) })],
        ["meta", await call("POST", messages, ana, { role: "user", content: "x", meta: "not an object" })],
        [
          "meta",
          await call("POST", messages, ana, {
            role: "user",
            content: "x",
            meta: { big: "m".repeat(64 * 1024) },
          }),
        ],
        ["limit", await call("GET", "/v1/conversations?limit=0", ana)],
        ["messageId", await call("DELETE", `${messages}/abc`, ana)],
      ];
      for (const [param, response] of cases) {
        expect(response.status, param).toBe(400);
        expect(expectErrorBody(response.body, "invalid_request").error.param, param).toBe(param);
      }
      // Exactly 1 MiB of content is allowed.
      const full = await call("POST", messages, ana, { role: "user", content: "é".repeat(512 * 1024) });
      expect(full.status).toBe(201);
      expect(
        (await call<ConversationJson>("GET", `/v1/conversations/${talk.id}`, ana)).body.message_count,
      ).toBe(1);
    });

    it("records every write in the audit log, and no read", async () => {
      const dir = resolveAuditPaths(ts.app.config).dir;
      const entries = () => tailAuditLog(dir, 1000).filter((e) => e.type.startsWith("conversation."));
      const before = entries().length;
      const { body: talk } = await call<ConversationJson>("POST", "/v1/conversations", ana, {
        title: "audit",
      });
      await call("GET", `/v1/conversations/${talk.id}`, ana);
      await call("PATCH", `/v1/conversations/${talk.id}`, ana, { title: "audited" });
      await call("POST", `/v1/conversations/${talk.id}/messages`, ana, { role: "user", content: "Bilbao" });
      await call("DELETE", `/v1/conversations/${talk.id}`, bob);
      await call("DELETE", `/v1/conversations/${talk.id}`, ana);
      await waitFor("the audit entries", () => entries().length >= before + 5);
      const written = entries().slice(before);
      expect(written.map((e) => [e.type, e.target, e.outcome])).toEqual([
        ["conversation.write", "/v1/conversations", "ok"],
        ["conversation.write", "/v1/conversations/:id", "ok"],
        ["conversation.write", "/v1/conversations/:id/messages", "ok"],
        ["conversation.delete", "/v1/conversations/:id", "error"],
        ["conversation.delete", "/v1/conversations/:id", "ok"],
      ]);
      expect(written[0]?.actor).toMatch(/^ana \(key:[0-9a-f]{8}\)$/);
      expect(written[3]?.actor).toMatch(/^bob \(key:[0-9a-f]{8}\)$/);
      expect(JSON.stringify(written)).not.toContain("Bilbao");
    });
  });

  describe("conversations with web off", () => {
    let ts: TestServer;
    beforeAll(async () => {
      ts = await startTestServer({ listen: false, web: { enabled: false } });
    }, 120_000);
    afterAll(() => ts.close());

    it("answers 404 saying the web UI is off", async () => {
      expect(ts.app.conversations).toBeUndefined();
      const response = await ts.server.fastify.inject({ method: "GET", url: "/v1/conversations" });
      expect(response.statusCode).toBe(404);
      expect(expectErrorBody(response.json()).error.message).toMatch(/web\.enabled: false/);
    });
  });
});
