import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect } from "vitest";
import { createServer, type Server } from "../src/api/index.js";
import { createApp, type App, type AppOptions } from "../src/app.js";
import {
  createConfigStore,
  loadConfig,
  type ConfigPatch,
  type ConfigStore,
  type LoadConfigOptions,
} from "../src/config/index.js";
import { createSilentLogger } from "../src/shared/index.js";
import { ensureTestModel, getTestLlama, slowModelOptions } from "./models.js";

export interface TestServerOptions {
  /** `server.*` settings; rate limiting is off unless given here. */
  server?: NonNullable<ConfigPatch["server"]>;
  /** The larger test model, whose long generations take seconds (abort, queue and shutdown tests). */
  slow?: boolean;
  /** Parallel sequences. Default: `1`. */
  sequences?: number;
  /** Whether to listen on a loopback port; in-process `inject()` needs no socket. Default: `true`. */
  listen?: boolean;
  /** `memory.*` settings. */
  memory?: NonNullable<ConfigPatch["memory"]>;
  /** `skills.*` settings. */
  skills?: NonNullable<ConfigPatch["skills"]>;
  /** `proactive.*` settings (the loop is opened, not started, unless a test starts it). */
  proactive?: NonNullable<ConfigPatch["proactive"]>;
  /** A GGUF file for the speculative-decoding draft role. */
  draft?: string;
  /** A GGUF file for the main role instead of the generated test model (a corrupt one, say). */
  main?: string;
  /** A GGUF file for the fallback role. */
  fallback?: string;
  /** `reflect.*` settings. */
  reflect?: NonNullable<ConfigPatch["reflect"]>;
  /** `voice.*` settings. */
  voice?: NonNullable<ConfigPatch["voice"]>;
  /** `search.*` settings. */
  search?: NonNullable<ConfigPatch["search"]>;
  /** `security.*` settings. */
  security?: NonNullable<ConfigPatch["security"]>;
  /** `web.*` settings. */
  web?: NonNullable<ConfigPatch["web"]>;
  /** The built web UI's folder (a fake build); default `dist/ui/`. */
  webRoot?: string;
  /** The proactive loop's clock and readings (a `ManualClock` to simulate idle time). */
  loop?: AppOptions["loop"];
  /**
   * A `sarai.yaml` written into the data directory (a function gets the directory). The app then follows it
   * through a config store, as `sarai serve` does, which self-repair needs (`app.repair`). Options above win
   * over the file.
   */
  configYaml?: string | ((dataDir: string) => string);
}

export interface TestServer {
  readonly app: App;
  readonly server: Server;
  /** `http://127.0.0.1:<port>`, or `""` when not listening. */
  readonly url: string;
  /** The id `/v1/models` lists for the main model. */
  readonly modelId: string;
  /** The temporary data directory (removed by `close()`). */
  readonly dataDir: string;
  /** The config store following `configYaml`; undefined without it. */
  readonly configStore: ConfigStore | undefined;
  /** Closes the server, disposes the app and removes the data directory; idempotent. */
  close(): Promise<void>;
}

/** A real app and API server on a generated test model, with its own temporary data directory. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "sarai-api-"));
  const source = await ensureTestModel(options.slow === true ? slowModelOptions : undefined);
  const loadOptions: LoadConfigOptions = {
    env: { HOME: dataDir, SARAI_PATHS_DATA_DIR: dataDir },
    cwd: dataDir,
    overrides: {
      models: {
        main: { source: options.main ?? source },
        ...(options.draft === undefined ? {} : { draft: { source: options.draft } }),
        ...(options.fallback === undefined ? {} : { fallback: { source: options.fallback } }),
      },
      server: { port: 0, rateLimitPerMinute: 0, ...options.server },
      // One thread: more than there are idle cores makes llama.cpp spin (see resolveThreadCount).
      inference: { threads: 1, sequences: options.sequences ?? 1, contextSize: 1024 },
      ...(options.memory === undefined ? {} : { memory: options.memory }),
      ...(options.skills === undefined ? {} : { skills: options.skills }),
      ...(options.proactive === undefined ? {} : { proactive: options.proactive }),
      ...(options.reflect === undefined ? {} : { reflect: options.reflect }),
      ...(options.voice === undefined ? {} : { voice: options.voice }),
      ...(options.search === undefined ? {} : { search: options.search }),
      ...(options.security === undefined ? {} : { security: options.security }),
      ...(options.web === undefined ? {} : { web: options.web }),
    },
  };
  let configStore: ConfigStore | undefined;
  if (options.configYaml !== undefined) {
    const file = path.join(dataDir, "sarai.yaml");
    const yaml = typeof options.configYaml === "function" ? options.configYaml(dataDir) : options.configYaml;
    await writeFile(file, yaml);
    configStore = createConfigStore({ ...loadOptions, file, logger: createSilentLogger() });
  }
  const config = configStore?.current ?? loadConfig(loadOptions).config;
  const app = await createApp({
    config,
    logger: createSilentLogger(),
    llama: await getTestLlama(),
    ...(configStore === undefined ? {} : { configStore }),
    ...(options.loop === undefined ? {} : { loop: options.loop }),
  });
  const server = await createServer({
    app,
    logger: createSilentLogger(),
    ...(options.webRoot === undefined ? {} : { webRoot: options.webRoot }),
  });
  const url = options.listen === false ? "" : await server.listen();
  let closed: Promise<void> | undefined;
  return {
    app,
    server,
    url,
    modelId: path.basename(options.main ?? source, ".gguf"),
    dataDir,
    configStore,
    close() {
      closed ??= (async () => {
        await server.close();
        await app.dispose();
        configStore?.dispose();
        await rm(dataDir, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}

/** The OpenAI error body: `{ error: { message, type, param, code } }`. */
export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string };
}

/** Asserts that `body` is an OpenAI-style error body (with `code` when given) and returns it typed. */
export function expectErrorBody(body: unknown, code?: string): ErrorBody {
  expect(body).toMatchObject({
    error: {
      message: expect.any(String) as unknown,
      type: expect.any(String) as unknown,
      code: code ?? (expect.stringMatching(/^[a-z_]+$/) as unknown),
    },
  });
  const { error } = body as ErrorBody;
  expect(error.param === null || typeof error.param === "string").toBe(true);
  expect(error.message.length).toBeGreaterThan(0);
  return body as ErrorBody;
}

/** Polls `check` every 20 ms until it returns true; fails after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The main model's sequences in use and requests waiting, from the pool. */
export async function mainPoolStatus(app: App): Promise<{ active: number; waiting: number }> {
  const main = (await app.pool.detailedStatus()).find((s) => s.role === "main");
  return { active: main?.activeSequences ?? 0, waiting: main?.waiting ?? 0 };
}

/** The value of one Prometheus sample whose labels include all of `labels`; undefined when absent. */
export function metricValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  let total: number | undefined;
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const given = match[2] ?? "";
    if (Object.entries(labels).every(([key, value]) => given.includes(`${key}="${value}"`))) {
      total = (total ?? 0) + Number(match[3]);
    }
  }
  return total;
}
