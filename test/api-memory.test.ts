import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FactJson } from "../src/memory/index.js";
import { expectErrorBody, startTestServer, type TestServer } from "./api-helpers.js";

interface Completion {
  usage: { prompt_tokens: number };
  sarai: { memory?: { recalled: number[]; stored: number[] } };
}

const aliceKey = "alice-key-0123456789";
const bobKey = "bob-key-0123456789";
const adminKey = "admin-key-0123456789";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    server: { apiKeys: [{ key: aliceKey, user: "alice" }, { key: bobKey, user: "bob" }, adminKey] },
  });
});
afterAll(() => server.close());

async function call(
  method: string,
  url: string,
  options: { key?: string; body?: unknown; raw?: Buffer } = {},
): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { authorization: `Bearer ${options.key ?? adminKey}` };
  let payload: string | Buffer | undefined;
  if (options.raw !== undefined) {
    headers["content-type"] = "application/json";
    payload = options.raw;
  } else if (options.body !== undefined) {
    headers["content-type"] = "application/json";
    payload = JSON.stringify(options.body);
  }
  const response = await server.server.fastify.inject({ method: method as "GET", url, headers, payload });
  return { status: response.statusCode, body: response.json() };
}

async function chat(user: string | undefined, content: string, key?: string): Promise<Completion> {
  const response = await call("POST", "/v1/chat/completions", {
    ...(key === undefined ? {} : { key }),
    body: {
      model: server.modelId,
      messages: [{ role: "user", content }],
      max_tokens: 4,
      temperature: 0,
      ...(user === undefined ? {} : { user }),
    },
  });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body as Completion;
}

async function facts(user: string, query = ""): Promise<FactJson[]> {
  const response = await call("GET", `/v1/memory/facts?user=${user}${query}`);
  expect(response.status).toBe(200);
  return (response.body as { data: FactJson[] }).data;
}

describe("api", () => {
  describe("memory", () => {
    it("stores a fact said in one chat request and recalls it in a later one for the same user only", async () => {
      const said = await chat("carol", "Mi hermana Lucía vive en Madrid.");
      expect(said.sarai.memory?.stored.length).toBeGreaterThanOrEqual(2);
      const stored = await facts("carol");
      expect(stored).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            subject: "Lucía",
            relation: "lives_in",
            object: "Madrid",
            confidence: 0.9,
          }),
          expect.objectContaining({
            subject: "usuario",
            relation: "sister",
            object: "Lucía",
            source: "user_input",
          }),
        ]),
      );
      const lucia = stored.find((fact) => fact.relation === "lives_in");

      const question = "¿Dónde vive Lucía?";
      const later = await chat("carol", question);
      expect(later.sarai.memory?.recalled).toContain(lucia?.id);
      const stranger = await chat("dave", question);
      expect(stranger.sarai.memory?.recalled).toEqual([]);
      // The recalled facts went into the prompt: the same question costs carol more prompt tokens.
      expect(later.usage.prompt_tokens).toBeGreaterThan(stranger.usage.prompt_tokens);
      expect(await facts("dave")).toEqual([]);
    });

    it("recalls through streaming too and stores what a streamed turn said", async () => {
      const response = await server.server.fastify.inject({
        method: "POST",
        url: "/v1/chat/completions",
        headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
        payload: JSON.stringify({
          model: server.modelId,
          messages: [{ role: "user", content: "I work at Siemens." }],
          max_tokens: 3,
          stream: true,
          user: "erin",
        }),
      });
      expect(response.statusCode).toBe(200);
      expect(response.body).toContain("[DONE]");
      expect(await facts("erin")).toEqual([
        expect.objectContaining({ subject: "user", relation: "works_at", object: "Siemens" }),
      ]);
    });

    it("replaces a single-valued fact and keeps the old one as history", async () => {
      await chat("frank", "I live in Boston.");
      await chat("frank", "I live in Denver.");
      expect((await facts("frank")).map((fact) => fact.object)).toEqual(["Denver"]);
      const history = await facts("frank", "&include_history=true");
      expect(history.map((fact) => [fact.object, fact.valid_to === null])).toEqual([
        ["Denver", true],
        ["Boston", false],
      ]);
    });

    describe("routes", () => {
      it("adds, reinforces, gets, searches and deletes a fact", async () => {
        const add = () =>
          call("POST", "/v1/memory/facts", {
            body: { user: "gina", subject: "José Luis", relation: "works at", object: "Banco Santander" },
          });
        const first = await add();
        expect(first.status).toBe(201);
        const fact = first.body as FactJson & { outcome: string };
        expect(fact).toMatchObject({ relation: "works_at", source: "manual", outcome: "inserted" });
        const again = await add();
        expect(again.status).toBe(200);
        expect(again.body).toMatchObject({ id: fact.id, outcome: "reinforced" });

        expect((await call("GET", `/v1/memory/facts/${fact.id}?user=gina`)).body).toMatchObject({
          id: fact.id,
        });
        const search = await call(
          "GET",
          `/v1/memory/search?user=gina&q=${encodeURIComponent("¿y jose luis?")}`,
        );
        expect((search.body as { data: FactJson[] }).data.map((f) => f.id)).toEqual([fact.id]);

        expect((await call("DELETE", `/v1/memory/facts/${fact.id}?user=gina`)).body).toEqual({
          id: fact.id,
          deleted: true,
        });
        const gone = await call("GET", `/v1/memory/facts/${fact.id}?user=gina`);
        expect(gone.status).toBe(404);
        expectErrorBody(gone.body, "not_found");
      });

      it("exports and imports into another user, and refuses a bad import naming the item", async () => {
        await call("POST", "/v1/memory/facts", {
          body: { user: "hank", subject: "Toby", relation: "is", object: "perro" },
        });
        await call("POST", "/v1/memory/facts", {
          body: { user: "hank", subject: "user", relation: "lives_in", object: "Quito" },
        });
        await call("POST", "/v1/memory/facts", {
          body: { user: "hank", subject: "user", relation: "lives_in", object: "Lima" },
        });
        const exported = (await call("GET", "/v1/memory/export?user=hank")).body as {
          format: string;
          facts: FactJson[];
        };
        expect(exported.format).toBe("sarai-memory");
        expect(exported.facts).toHaveLength(3);

        const imported = await call("POST", "/v1/memory/import", { body: { ...exported, user: "ivy" } });
        expect(imported.body).toEqual({ imported: 2, reinforced: 0, historic: 1 });
        const ivy = await facts("ivy", "&include_history=true");
        expect(ivy.map((fact) => `${fact.subject}|${fact.object}|${fact.valid_to === null}`).sort()).toEqual([
          "Toby|perro|true",
          "user|Lima|true",
          "user|Quito|false",
        ]);

        const bad = await call("POST", "/v1/memory/import", {
          body: {
            user: "ivy",
            facts: [
              { subject: "A", relation: "b", object: "c" },
              { relation: "b", object: "c" },
            ],
          },
        });
        expect(bad.status).toBe(400);
        expect(expectErrorBody(bad.body, "invalid_request").error.param).toBe("facts[1].subject");
        expect(await facts("ivy", "&include_history=true")).toHaveLength(3);
      });

      it("extracts facts without storing them, or storing them when asked", async () => {
        const dry = await call("POST", "/v1/memory/extract", {
          body: { user: "jack", text: "Pedro y Marta viven en Sevilla." },
        });
        expect(dry.body).toMatchObject({ language: "es", truncated: false });
        expect((dry.body as { facts: unknown[] }).facts).toEqual([
          expect.objectContaining({ subject: "Pedro", object: "Sevilla", negated: false }),
          expect.objectContaining({ subject: "Marta", object: "Sevilla", negated: false }),
        ]);
        expect(await facts("jack")).toEqual([]);
        const stored = await call("POST", "/v1/memory/extract", {
          body: { user: "jack", text: "Pedro y Marta viven en Sevilla.", store: true },
        });
        expect((stored.body as { stored: unknown[] }).stored).toHaveLength(2);
        expect(await facts("jack")).toHaveLength(2);
      });

      it("reports stats for the user", async () => {
        await call("POST", "/v1/memory/facts", {
          body: { user: "kate", subject: "a", relation: "b", object: "c" },
        });
        expect((await call("GET", "/v1/memory/stats?user=kate")).body).toMatchObject({
          facts: 1,
          active_facts: 1,
          historic_facts: 0,
        });
      });
    });

    describe("isolation", () => {
      it("never lets one user recall, list, export or delete another's facts", async () => {
        const added = await call("POST", "/v1/memory/facts", {
          key: aliceKey,
          body: { subject: "Ana", relation: "is", object: "médica" },
        });
        expect(added.status).toBe(201);
        const secret = added.body as FactJson;
        expect(secret.user).toBe("alice");

        // Bob's key acts as bob whatever user it names: naming alice is refused.
        for (const [method, url, body] of [
          ["GET", "/v1/memory/facts?user=alice"],
          ["GET", "/v1/memory/search?q=Ana&user=alice"],
          ["GET", "/v1/memory/export?user=alice"],
          ["DELETE", `/v1/memory/facts/${secret.id}?user=alice`],
          ["DELETE", "/v1/memory/facts?subject=Ana&user=alice"],
          [
            "POST",
            "/v1/chat/completions",
            { model: server.modelId, messages: [{ role: "user", content: "Ana" }], user: "alice" },
          ],
        ] as [string, string, unknown?][]) {
          const response = await call(method, url, { key: bobKey, ...(body === undefined ? {} : { body }) });
          expect(response.status, `${method} ${url}`).toBe(403);
          expectErrorBody(response.body, "forbidden");
        }

        // As bob, alice's fact is simply not there.
        expect((await call("GET", "/v1/memory/facts", { key: bobKey })).body).toEqual({
          object: "list",
          data: [],
        });
        expect((await call("GET", "/v1/memory/search?q=Ana", { key: bobKey })).body).toEqual({
          object: "list",
          data: [],
        });
        expect(
          ((await call("GET", "/v1/memory/export", { key: bobKey })).body as { facts: unknown[] }).facts,
        ).toEqual([]);
        expect((await call("GET", `/v1/memory/facts/${secret.id}`, { key: bobKey })).status).toBe(404);
        expect((await call("DELETE", `/v1/memory/facts/${secret.id}`, { key: bobKey })).status).toBe(404);
        expect((await call("DELETE", "/v1/memory/facts?subject=Ana", { key: bobKey })).body).toEqual({
          deleted: 0,
        });
        const bobChat = await chat(undefined, "¿Qué sabes de Ana?", bobKey);
        expect(bobChat.sarai.memory?.recalled).toEqual([]);

        // Alice still has it, and her chat recalls it.
        expect((await call("GET", `/v1/memory/facts/${secret.id}`, { key: aliceKey })).status).toBe(200);
        const aliceChat = await chat(undefined, "¿Qué sabes de Ana?", aliceKey);
        expect(aliceChat.sarai.memory?.recalled).toEqual([secret.id]);
      });
    });

    describe("bad input", () => {
      it("answers 400 for a body that is not UTF-8, and stores nothing", async () => {
        const raw = Buffer.concat([
          Buffer.from('{"user":"lena","subject":"'),
          Buffer.from([0xff, 0xfe, 0xc3]),
          Buffer.from('","relation":"is","object":"x"}'),
        ]);
        const response = await call("POST", "/v1/memory/facts", { raw });
        expect(response.status).toBe(400);
        expect(expectErrorBody(response.body, "invalid_request").error.message).toMatch(/not valid UTF-8/);
        expect(await facts("lena")).toEqual([]);
      });

      it("answers 400 naming the field for a lone surrogate", async () => {
        const response = await call("POST", "/v1/memory/facts", {
          raw: Buffer.from('{"user":"lena","subject":"A\\ud800B","relation":"is","object":"x"}'),
        });
        expect(response.status).toBe(400);
        expect(expectErrorBody(response.body, "invalid_request").error.param).toBe("subject");
      });

      it("stores SQL metacharacters and control characters literally", async () => {
        const subject = "Robert'); DROP TABLE facts;--\u0001";
        const response = await call("POST", "/v1/memory/facts", {
          body: { user: "lena", subject, relation: "likes", object: '100% "quotes" _ \\' },
        });
        expect(response.status).toBe(201);
        const [fact] = await facts("lena", `&subject=${encodeURIComponent(subject)}`);
        expect(fact).toMatchObject({ subject, object: '100% "quotes" _ \\' });
      });

      it("cuts an overlong text at memory.maxExtractChars and says so", async () => {
        const text = `Vivo en Bilbao. ${"bla ".repeat(2000)} Vivo en Cádiz.`;
        const response = await call("POST", "/v1/memory/extract", { body: { text } });
        expect(response.body).toMatchObject({
          truncated: true,
          warning: "only the first 4000 characters were read",
        });
        const objects = (response.body as { facts: { object: string }[] }).facts.map((fact) => fact.object);
        expect(objects).toEqual(["Bilbao"]);
      });

      it("names the field of a bad fact", async () => {
        for (const [body, param] of [
          [{ subject: "", relation: "is", object: "x" }, "subject"],
          [{ subject: "a", relation: "is", object: "x", confidence: 2 }, "confidence"],
          [{ subject: "a", relation: "is", object: "x", colour: "red" }, undefined],
          [{ subject: "a", relation: "!!", object: "x" }, "relation"],
        ] as [Record<string, unknown>, string | undefined][]) {
          const response = await call("POST", "/v1/memory/facts", { body });
          expect(response.status, JSON.stringify(body)).toBe(400);
          const error = expectErrorBody(response.body, "invalid_request").error;
          if (param !== undefined) expect(error.param).toBe(param);
          else expect(error.message).toMatch(/colour/);
        }
        const noFilter = await call("DELETE", "/v1/memory/facts?user=lena");
        expect(noFilter.status).toBe(400);
        expect((await call("GET", "/v1/memory/facts/abc")).status).toBe(400);
        expect((await call("GET", "/v1/memory/facts?limit=0")).status).toBe(400);
      });
    });
  });
});
