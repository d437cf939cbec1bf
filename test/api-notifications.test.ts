import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FactJson } from "../src/memory/index.js";
import { ManualClock } from "../src/proactive/index.js";
import { expectErrorBody, startTestServer, waitFor, type TestServer } from "./api-helpers.js";

const anaKey = "ana-key-0123456789";
const adminKey = "admin-key-0123456789";
const minute = 60_000;
const monthsEs = [
  "enero",
  "febrero",
  "marzo",
  "abril",
  "mayo",
  "junio",
  "julio",
  "agosto",
  "septiembre",
  "octubre",
  "noviembre",
  "diciembre",
];

interface NotificationJson {
  id: number;
  object: "notification";
  user: string;
  kind: string;
  text: string;
  data: { factIds: number[] };
  created_at: string;
}

let server: TestServer;
const clock = new ManualClock(Date.now());

beforeAll(async () => {
  server = await startTestServer({
    server: { apiKeys: [{ key: anaKey, user: "ana" }, adminKey] },
    // Only the idle actions: the machine checks would read this machine's real memory and disk.
    proactive: {
      actions: {
        ram_check: { enabled: false },
        prune: { enabled: false },
        disk_check: { enabled: false },
        log_retention: { enabled: false },
        memory_maintenance: { enabled: false },
      },
    },
    loop: { clock },
  });
});
afterAll(() => server.close());

async function call(method: string, url: string, options: { key?: string; body?: unknown } = {}) {
  const response = await server.server.fastify.inject({
    method: method as "GET",
    url,
    headers: {
      authorization: `Bearer ${options.key ?? adminKey}`,
      ...(options.body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(options.body === undefined ? {} : { payload: JSON.stringify(options.body) }),
  });
  return { status: response.statusCode, body: response.json<unknown>() };
}

/** A chat turn as `user`: memory stores its facts and the loop records the activity. */
async function say(user: string, content: string): Promise<void> {
  const response = await call("POST", "/v1/chat/completions", {
    body: {
      model: server.modelId,
      messages: [{ role: "user", content }],
      max_tokens: 2,
      temperature: 0,
      user,
    },
  });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
}

async function list(user: string, query = ""): Promise<NotificationJson[]> {
  const response = await call("GET", `/v1/notifications?user=${user}${query}`);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return (response.body as { data: NotificationJson[] }).data;
}

/** Moves the loop's clock and lets every due job (idle check, suggestions with the model) finish. */
async function advance(ms: number): Promise<void> {
  const loop = server.app.loop;
  if (loop === undefined) throw new Error("the loop is off");
  await loop.scheduler.settle();
  clock.advance(ms);
  await loop.scheduler.settle();
}

/** An open SSE connection whose `data:` events are collected as they come. */
async function openStream(path: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const response = await fetch(`${server.url}${path}`, {
    headers: { authorization: `Bearer ${adminKey}`, ...headers },
    signal: controller.signal,
  });
  const events: { id: number | undefined; data: NotificationJson }[] = [];
  let text = "";
  const reading = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        text += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = text.indexOf("\n\n")) !== -1) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          const id = /^id: (\d+)$/m.exec(block)?.[1];
          if (data !== undefined) {
            events.push({
              id: id === undefined ? undefined : Number(id),
              data: JSON.parse(data) as NotificationJson,
            });
          }
        }
      }
    } catch {
      // Aborted by close().
    }
  })();
  return {
    response,
    events,
    async close() {
      controller.abort();
      await reading;
    },
  };
}

describe("notifications", () => {
  it("delivers an idle suggestion built from a fact told in chat on the SSE feed, and none to an active user", async () => {
    // A birthday three days ahead of the loop's clock, told in Spanish.
    const birthday = new Date(clock.now() + 3 * 24 * 60 * minute);
    const date = `${birthday.getDate()} de ${monthsEs[birthday.getMonth()]}`;
    await say("ana", `Mi cumpleaños es el ${date}`);
    await say("bob", "I have a dentist appointment tomorrow at 10");
    const facts = (await call("GET", "/v1/memory/facts?user=ana")).body as { data: FactJson[] };
    const fact = facts.data.find((f) => f.relation === "birthday");
    expect(fact?.object).toBe(date);

    const ana = await openStream("/v1/notifications/stream?user=ana");
    const bob = await openStream("/v1/notifications/stream?user=bob");
    try {
      expect(ana.response.status).toBe(200);
      expect(ana.response.headers.get("content-type")).toMatch(/^text\/event-stream/);

      // Bob keeps talking; Ana goes quiet past the idle time (5 minutes).
      await advance(4 * minute);
      await say("bob", "thanks");
      await advance(2 * minute);

      await waitFor("Ana's suggestion on the stream", () => ana.events.length > 0, 15_000);
      const [event] = ana.events;
      expect(event?.data).toMatchObject({
        object: "notification",
        user: "ana",
        kind: "suggestion",
        data: { factIds: [fact?.id] },
      });
      expect(event?.id).toBe(event?.data.id);
      expect(event?.data.text.trim().length).toBeGreaterThan(0);
      expect(await list("ana")).toEqual([event?.data]);
      // Bob was active two minutes ago: nothing for him.
      expect(await list("bob")).toEqual([]);
      expect(bob.events).toEqual([]);

      // Once Bob is quiet long enough, his appointment gives him one too.
      await advance(4 * minute);
      await waitFor("Bob's suggestion on the stream", () => bob.events.length > 0, 15_000);
      expect(bob.events[0]?.data).toMatchObject({ user: "bob", kind: "suggestion" });
      expect(ana.events).toHaveLength(1);
    } finally {
      await ana.close();
      await bob.close();
    }
  });

  it("replays what a reconnecting stream missed from Last-Event-ID or after", async () => {
    const [first] = await list("ana");
    expect(first).toBeDefined();
    const resumed = await openStream("/v1/notifications/stream?user=ana", { "last-event-id": "0" });
    const fresh = await openStream("/v1/notifications/stream?user=ana");
    const after = await openStream(`/v1/notifications/stream?user=ana&after=${first?.id ?? 0}`);
    try {
      await waitFor("the replayed notification", () => resumed.events.length > 0);
      expect(resumed.events[0]?.data).toEqual(first);
      // Give the other two a poll to prove they send nothing old.
      await new Promise((resolve) => setTimeout(resolve, 1200));
      expect(fresh.events).toEqual([]);
      expect(after.events).toEqual([]);
    } finally {
      await Promise.all([resumed.close(), fresh.close(), after.close()]);
    }
  });

  it("pages the list with after and limit", async () => {
    const all = await list("ana");
    expect(all.length).toBeGreaterThan(0);
    const last = all[all.length - 1];
    expect(await list("ana", `&after=${last?.id ?? 0}`)).toEqual([]);
    const page = await call("GET", "/v1/notifications?user=ana&limit=1");
    expect(page.body).toMatchObject({ object: "list", has_more: all.length > 1 });
  });

  it("scopes the feed to the API key's bound user", async () => {
    const own = await call("GET", "/v1/notifications", { key: anaKey });
    expect(own.status).toBe(200);
    expect((own.body as { data: NotificationJson[] }).data.every((n) => n.user === "ana")).toBe(true);
    const other = await call("GET", "/v1/notifications?user=bob", { key: anaKey });
    expect(other.status).toBe(403);
    expectErrorBody(other.body, "forbidden");
    const stream = await call("GET", "/v1/notifications/stream?user=bob", { key: anaKey });
    expect(stream.status).toBe(403);
  });

  it("refuses bad queries with the field named", async () => {
    for (const query of ["after=-1", "limit=0", "limit=5000", "since=3"]) {
      const response = await call("GET", `/v1/notifications?${query}`);
      expect(response.status, query).toBe(400);
      expectErrorBody(response.body, "invalid_request");
    }
    const stream = await call("GET", "/v1/notifications/stream?after=x");
    expect(stream.status).toBe(400);
  });
});

describe("notifications with the loop off", () => {
  let off: TestServer;
  beforeAll(async () => {
    off = await startTestServer({ listen: false, proactive: { enabled: false } });
  });
  afterAll(() => off.close());

  it("answers 409 loop_disabled on both routes", async () => {
    for (const url of ["/v1/notifications", "/v1/notifications/stream"]) {
      const response = await off.server.fastify.inject({ method: "GET", url });
      expect(response.statusCode, url).toBe(409);
      expectErrorBody(response.json(), "loop_disabled");
    }
  });
});

describe("notification streams at shutdown", () => {
  it("are ended as the server closes instead of holding it for the shutdown grace", async () => {
    const own = await startTestServer({ server: { shutdownGraceMs: 10_000 } });
    let ended = false;
    try {
      const response = await fetch(`${own.url}/v1/notifications/stream?user=ana`);
      expect(response.status).toBe(200);
      const draining = (async () => {
        for await (const _ of response.body as unknown as AsyncIterable<Uint8Array>) {
          // The opening comment, then nothing until the end.
        }
        ended = true;
      })();
      const started = Date.now();
      await own.server.close();
      expect(Date.now() - started).toBeLessThan(5_000);
      await draining;
      expect(ended).toBe(true);
    } finally {
      await own.close();
    }
  });
});
