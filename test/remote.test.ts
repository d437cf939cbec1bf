import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "../src/api/index.js";
import { createApp, type App } from "../src/app.js";
import { loadConfig, type ConfigPatch } from "../src/config/index.js";
import { createSilentLogger } from "../src/shared/index.js";
import { ensureTestModel, getTestLlama } from "./models.js";

interface Instance {
  app: App;
  server: Server;
  url: string;
}

let dir: string;
const instances: Instance[] = [];

async function startInstance(models: ConfigPatch["models"]): Promise<Instance> {
  const { config } = loadConfig({
    env: { HOME: dir, SARAI_PATHS_DATA_DIR: dir },
    overrides: {
      models,
      server: { port: 0, rateLimitPerMinute: 0 },
      inference: { threads: 1, sequences: 2, contextSize: 1024 },
    },
  });
  const app = await createApp({ config, logger: createSilentLogger(), llama: await getTestLlama() });
  const server = await createServer({ app, logger: createSilentLogger() });
  const instance = { app, server, url: await server.listen() };
  instances.push(instance);
  return instance;
}

let local: Instance;
let front: Instance;
let modelId: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "sarai-remote-"));
  local = await startInstance({ main: { source: await ensureTestModel() } });
  modelId = local.app.listModels()[0]?.id ?? "";
  // A second SARAi that runs no model: its main role is the first instance, over loopback HTTP.
  front = await startInstance({ main: { remote: { baseUrl: `${local.url}/v1`, model: modelId } } });
});

afterAll(async () => {
  for (const instance of instances.reverse()) {
    await instance.server.close();
    await instance.app.dispose();
  }
  await rm(dir, { recursive: true, force: true });
});

describe("remote backend", () => {
  it("serves a role from another SARAi instance with the same answers", async () => {
    expect(front.app.listModels()).toEqual([
      expect.objectContaining({ id: modelId, role: "main", remote: `${local.url}/v1` }),
    ]);
    expect(front.app.pool.roles).toEqual([]);
    const direct = new OpenAI({ baseURL: `${local.url}/v1`, apiKey: "none" });
    const viaFront = new OpenAI({ baseURL: `${front.url}/v1`, apiKey: "none" });
    const request = {
      model: modelId,
      messages: [{ role: "user" as const, content: "hola" }],
      seed: 3,
      max_tokens: 16,
    };
    const a = await direct.chat.completions.create(request);
    const b = await viaFront.chat.completions.create(request);
    expect(b.choices[0]?.message.content).toBe(a.choices[0]?.message.content);
    expect(b.usage?.completion_tokens).toBe(a.usage?.completion_tokens);

    let streamed = "";
    const stream = await viaFront.chat.completions.create({ ...request, stream: true });
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta.content ?? "";
    expect(streamed).toBe(a.choices[0]?.message.content);
  });

  it("passes JSON schema requests through and validates what comes back", async () => {
    const viaFront = new OpenAI({ baseURL: `${front.url}/v1`, apiKey: "none" });
    const response = await viaFront.chat.completions.create({
      model: modelId,
      messages: [{ role: "user", content: "json please" }],
      seed: 5,
      max_tokens: 100,
      response_format: {
        type: "json_schema",
        json_schema: {
          name: "level",
          schema: {
            type: "object",
            properties: { level: { enum: ["low", "high"] }, ok: { type: "boolean" } },
            required: ["level", "ok"],
            additionalProperties: false,
          },
        },
      },
    });
    const value = JSON.parse(response.choices[0]?.message.content ?? "") as { level: string; ok: boolean };
    expect(["low", "high"]).toContain(value.level);
    expect(typeof value.ok).toBe("boolean");
  });

  it("reports a clear upstream error when the other instance is gone", async () => {
    const orphan = await startInstance({
      main: { remote: { baseUrl: "http://127.0.0.1:9/v1", model: "x", retries: 1, connectTimeoutMs: 500 } },
    });
    const client = new OpenAI({ baseURL: `${orphan.url}/v1`, apiKey: "none", maxRetries: 0 });
    const error = await client.chat.completions
      .create({ model: "x", messages: [{ role: "user", content: "hola" }] })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBeGreaterThanOrEqual(500);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBeLessThan(600);
    expect(String((error as Error).message)).toMatch(/127\.0\.0\.1:9/);
  });
});
