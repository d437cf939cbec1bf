/**
 * The memory extractors end to end: SARAi's HTTP API in front, a scripted OpenAI-compatible engine on loopback
 * as the main model (real HTTP, real SSE), a real SQLite file. The engine answers chat turns with a fixed reply
 * and the extraction request (the one constrained by the fact schema) with a scripted JSON answer.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "../src/api/index.js";
import { createApp, type App } from "../src/app.js";
import { loadConfig, type ConfigPatch } from "../src/config/index.js";
import { factExtractionSchema } from "../src/memory/index.js";
import { createSilentLogger, type Logger } from "../src/shared/index.js";
import {
  defaultScript,
  replyScripted,
  startFakeOpenAiServer,
  type FakeOpenAiServer,
  type RecordedRequest,
} from "./fake-openai-server.js";
import { ensureTestModel, getTestLlama } from "./models.js";

interface Instance {
  app: App;
  server: Server;
  url: string;
  dir: string;
}

const reply = "¡Genial, gracias por contármelo!";
let fake: FakeOpenAiServer;
/** What the engine answers to the next extraction request (a JSON text, valid or not). */
let extractionAnswer = "";
const instances: Instance[] = [];

const isExtraction = (request: RecordedRequest) =>
  (request.body as { response_format?: { type?: string } } | undefined)?.response_format?.type ===
  "json_schema";

beforeAll(async () => {
  fake = await startFakeOpenAiServer();
  fake.handle = (request, res, exchange) => {
    const script = isExtraction(request)
      ? { ...defaultScript, pieces: [extractionAnswer] }
      : { ...defaultScript, pieces: [reply] };
    return replyScripted(script)(request, res, exchange);
  };
});
afterEach(async () => {
  for (const instance of instances.splice(0)) {
    await instance.server.close();
    await instance.app.dispose();
    await rm(instance.dir, { recursive: true, force: true });
  }
});
afterAll(() => fake.close());

async function start(
  memory: NonNullable<ConfigPatch["memory"]>,
  options: { local?: string; logger?: Logger } = {},
): Promise<Instance> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "sarai-extractor-"));
  const { config } = loadConfig({
    env: { HOME: dir, SARAI_PATHS_DATA_DIR: dir },
    cwd: dir,
    overrides: {
      models: {
        main:
          options.local === undefined
            ? { remote: { baseUrl: fake.baseUrl, model: "fake-model-1", retries: 0 } }
            : { source: options.local },
      },
      server: { port: 0, rateLimitPerMinute: 0 },
      inference: { threads: 1, sequences: 1, contextSize: 1024 },
      memory,
    },
  });
  const app = await createApp({
    config,
    logger: options.logger ?? createSilentLogger(),
    llama: await getTestLlama(),
  });
  const server = await createServer({ app, logger: createSilentLogger() });
  const instance = { app, server, url: await server.listen(), dir };
  instances.push(instance);
  return instance;
}

async function chat(instance: Instance, user: string, content: string): Promise<unknown> {
  const response = await fetch(`${instance.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "sarai", user, messages: [{ role: "user", content }] }),
  });
  expect(response.status).toBe(200);
  return response.json();
}

interface FactBody {
  subject: string;
  relation: string;
  object: string;
  confidence: number;
  extractor: string | null;
}

async function facts(instance: Instance, user: string): Promise<FactBody[]> {
  const response = await fetch(`${instance.url}/v1/memory/facts?user=${user}&include_history=true`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { data: FactBody[] }).data;
}

async function stats(instance: Instance): Promise<Record<string, unknown>> {
  const response = await fetch(`${instance.url}/v1/memory/stats`);
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

describe("memory", () => {
  describe("extractors over a remote main model", () => {
    it("with both: stores the rules' facts, then the model's, each with its provenance", async () => {
      extractionAnswer = JSON.stringify({
        facts: [
          { subject: "yo", relation: "vive en", object: "Bilbao", negated: false },
          { subject: "Usuario", relation: "practica", object: "la escalada", negated: false },
          { subject: "usuario", relation: "sueña con", object: "Marte", negated: false },
          { subject: "usuario", relation: "likes", object: "   ", negated: false },
        ],
      });
      const instance = await start({ extractor: "both" });
      expect(instance.app.memory?.extractor).toBe("both");
      const requestsBefore = fake.requests.length;
      const text = "Vivo en Bilbao. Mi hermana se llama Marta. Los domingos escalo en Atxarte.";
      const answer = (await chat(instance, "ane", text)) as {
        choices: { message: { content: string } }[];
      };
      expect(answer.choices[0]?.message.content).toBe(reply);
      await instance.app.turns.drain();

      const sent = fake.requests.slice(requestsBefore);
      const extraction = sent.filter(isExtraction);
      expect(extraction).toHaveLength(1);
      const body = extraction[0]?.body as {
        messages: { role: string; content: string }[];
        response_format: { json_schema: { schema: unknown } };
      };
      expect(body.response_format.json_schema.schema).toEqual(factExtractionSchema);
      expect(body.messages.at(-1)).toEqual({ role: "user", content: text });

      const stored = await facts(instance, "ane");
      const view = stored.map((f) => [f.subject, f.relation, f.object, f.extractor]);
      expect(view).toEqual(
        expect.arrayContaining([
          ["usuario", "lives_in", "Bilbao", "both"],
          ["usuario", "sister", "Marta", "rules"],
          // Only the model found it; "practica" is an alias of practices and "la" an article the rules drop.
          ["usuario", "practices", "escalada", "model"],
        ]),
      );
      expect(stored).toHaveLength(3);
      expect(stored.find((f) => f.relation === "practices")?.confidence).toBe(0.75);
      expect(stored.find((f) => f.relation === "lives_in")?.confidence).toBe(0.9);
      expect(await stats(instance)).toMatchObject({
        extractor: "both",
        model_extraction: { requests: 1, failures: 0, invalid_facts: 1, unknown_relations: 1, facts: 2 },
      });
    }, 60_000);

    it("with model and a garbage answer: no rule facts, nothing stored, the failure counted, the reply intact", async () => {
      extractionAnswer = "these are not the facts you are looking for {{{";
      const instance = await start({ extractor: "model" });
      const answer = (await chat(instance, "iker", "Vivo en Bilbao y trabajo en Iberdrola.")) as {
        choices: { message: { content: string } }[];
      };
      expect(answer.choices[0]?.message.content).toBe(reply);
      await instance.app.turns.drain();
      expect(await facts(instance, "iker")).toEqual([]);
      expect(await stats(instance)).toMatchObject({
        extractor: "model",
        model_extraction: { requests: 1, failures: 1, facts: 0 },
      });
      // Still serving: a well-formed answer on the next turn is stored as the model's.
      extractionAnswer = JSON.stringify({
        facts: [{ subject: "I", relation: "employed by", object: "Iberdrola", negated: false }],
      });
      await chat(instance, "iker", "Trabajo en Iberdrola.");
      await instance.app.turns.drain();
      expect(
        (await facts(instance, "iker")).map((f) => [f.subject, f.relation, f.object, f.extractor]),
      ).toEqual([["usuario", "works_at", "Iberdrola", "model"]]);
    }, 60_000);

    it("reads the deprecated modelExtraction: true as both, and extractor wins over it", async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), "sarai-extractor-"));
      try {
        const load = (memory: NonNullable<ConfigPatch["memory"]>) =>
          loadConfig({ env: { HOME: dir }, cwd: dir, overrides: { memory } }).config.memory;
        expect(load({}).extractor).toBe("auto");
        expect(load({ modelExtraction: true }).extractor).toBe("both");
        expect(load({ modelExtraction: true, extractor: "model" }).extractor).toBe("model");
        expect("modelExtraction" in load({ modelExtraction: true })).toBe(false);
        expect(() => load({ extractor: "llm" as never })).toThrow(/memory\.extractor/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe("extractors over a generated local model", () => {
    it("falls back to the rules with one warning, and no extraction request", async () => {
      const lines: { level: number; msg: string; reason?: string }[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
          for (const line of chunk.toString("utf8").split("\n"))
            if (line !== "") lines.push(JSON.parse(line) as (typeof lines)[number]);
          done();
        },
      });
      const instance = await start(
        { extractor: "model" },
        { local: await ensureTestModel(), logger: pino({ level: "warn" }, sink) },
      );
      expect(instance.app.memory?.extractor).toBe("rules");
      const warnings = () => lines.filter((line) => line.msg.startsWith("memory.extractor is model"));
      expect(warnings()).toHaveLength(1);
      expect(warnings()[0]?.reason).toMatch(/generated random-weight model/);
      const response = await fetch(`${instance.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: "sarai",
          user: "leire",
          max_tokens: 2,
          messages: [{ role: "user", content: "Me mudé a Getxo." }],
        }),
      });
      expect(response.status).toBe(200);
      await instance.app.turns.drain();
      expect((await facts(instance, "leire")).map((f) => [f.relation, f.object, f.extractor])).toEqual([
        ["lives_in", "Getxo", "rules"],
      ]);
      expect(warnings()).toHaveLength(1);
      expect(await stats(instance)).toMatchObject({ extractor: "rules", model_extraction: { requests: 0 } });
    }, 120_000);

    it("auto (the default) is the rules there, without a warning", async () => {
      const lines: { level: number; msg: string }[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
          for (const line of chunk.toString("utf8").split("\n"))
            if (line !== "") lines.push(JSON.parse(line) as (typeof lines)[number]);
          done();
        },
      });
      const instance = await start(
        {},
        { local: await ensureTestModel(), logger: pino({ level: "warn" }, sink) },
      );
      expect(instance.app.config.memory.extractor).toBe("auto");
      expect(instance.app.memory?.extractor).toBe("rules");
      expect(lines.filter((line) => line.msg.includes("memory.extractor"))).toEqual([]);
    }, 120_000);
  });

  describe("auto over a real (remote) main model", () => {
    it("is both: the rules' facts and the model's, each with its provenance", async () => {
      extractionAnswer = JSON.stringify({
        facts: [{ subject: "I", relation: "practica", object: "la escalada", negated: false }],
      });
      const instance = await start({});
      expect(instance.app.memory?.extractor).toBe("both");
      await chat(instance, "nerea", "Vivo en Bilbao y los domingos salgo al monte.");
      await instance.app.turns.drain();
      const view = (await facts(instance, "nerea")).map((f) => [f.relation, f.object, f.extractor]);
      expect(view).toEqual(
        expect.arrayContaining([
          ["lives_in", "Bilbao", "rules"],
          ["practices", "escalada", "model"],
        ]),
      );
    }, 60_000);
  });
});
