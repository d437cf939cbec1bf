import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createBuiltinActions,
  createLoopbackModelServer,
  JobStore,
  ManualClock,
  Scheduler,
  type LoopPorts,
  type LoopSettings,
} from "../src/proactive/index.js";
import { metricValue, startTestServer, waitFor, type TestServer } from "./api-helpers.js";
import { createCliRunner, expectNoStackTrace } from "./cli-helpers.js";
import { findClosedPort } from "./fake-openai-server.js";
import { ensureTestModel } from "./models.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const tsx = pathToFileURL(path.join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;
const mib = 2 ** 20;

interface RunJson {
  job: { id: number; action: string; status: string; result: unknown; lastError: string | null };
  ranBy: "loop" | "cli";
}

interface ServerJson {
  pid: number;
  rss_bytes: number;
  models: { role: string; loaded: boolean }[];
}

describe("proactive loop", () => {
  describe("sarai loop beside a real sarai serve", () => {
    let dir: string;
    let serve: ChildProcess;
    let base = "";
    let stderr = "";
    const cli = createCliRunner(() => dir);
    const env = () => ({ SARAI_PROACTIVE_SERVER_URL: base, SARAI_LOG_FILE: "false" });
    const getJson = async <T>(route: string): Promise<T> => {
      const response = await fetch(`${base}${route}`);
      expect(response.status, route).toBe(200);
      return (await response.json()) as T;
    };
    const mainLoaded = async () =>
      (await getJson<ServerJson>("/v1/loop/server")).models.find((m) => m.role === "main")?.loaded;

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), "sarai-loop-server-"));
      const model = await ensureTestModel();
      serve = spawn(
        process.execPath,
        ["--import", tsx, path.join(root, "src", "cli", "main.ts"), "serve", "--port", "0", "--model", model],
        {
          cwd: dir,
          env: {
            PATH: process.env["PATH"] ?? "",
            HOME: dir,
            SARAI_PATHS_DATA_DIR: dir,
            SARAI_LOG_FILE: "false",
            // As shipped with a supervisor: the schedule runs in `sarai loop`, not here.
            SARAI_PROACTIVE_IN_SERVER: "false",
            SARAI_INFERENCE_THREADS: "1",
          },
          stdio: ["ignore", "ignore", "pipe"],
        },
      );
      serve.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const listening = /listening on (http:\/\/127\.0\.0\.1:\d+)/;
      await waitFor("sarai serve to listen", () => listening.test(stderr), 90_000);
      base = listening.exec(stderr)?.[1] ?? "";
    }, 120_000);

    afterAll(async () => {
      if (serve.exitCode === null) {
        const exited = new Promise((resolve) => serve.once("exit", resolve));
        serve.kill("SIGTERM");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    });

    it("checks the server's RSS, prunes the server's idle model over loopback, and the server's /metrics counts both runs", async () => {
      const server = await getJson<ServerJson>("/v1/loop/server");
      expect(server.pid).toBe(serve.pid);
      expect(server.rss_bytes).toBeGreaterThan(mib);
      expect(await mainLoaded()).toBe(true);
      expect((await getJson<{ ready: boolean }>("/ready")).ready).toBe(true);
      const metricsBefore = await (await fetch(`${base}/metrics`)).text();
      expect(
        metricValue(metricsBefore, "sarai_proactive_actions_total", { action: "ram_check" }),
      ).toBeUndefined();

      // 1 MiB: any real server is above it, so the check finds RAM high and prune runs on ram_high.
      const result = await cli(["loop", "run", "ram_check", "--args", '{"maxRssMb": 1}', "--json"], {
        env: env(),
      });
      expect(result.code, result.stdout + result.stderr).toBe(0);
      const run = JSON.parse(result.stdout) as RunJson;
      expect(run.ranBy).toBe("cli");
      expect(run.job.result).toMatchObject({ high: true, reasons: ["rss_above_max"], rssOf: "server" });

      const store = JobStore.open({ file: path.join(dir, "state", "loop.db"), readonly: true });
      try {
        const [prune] = store.jobs({ action: "prune" });
        expect(prune).toMatchObject({ status: "succeeded", trigger: "event:ram_high" });
        expect(prune?.result).toMatchObject({ unloadedModels: ["main model"], in: "server" });
        expect((prune?.result as { rssBeforeBytes: number }).rssBeforeBytes).toBeGreaterThan(mib);
      } finally {
        store.close();
      }
      // The model was unloaded in the server process, which the loop process never loaded.
      expect(await mainLoaded()).toBe(false);
      const ready = await fetch(`${base}/ready`);
      expect(((await ready.json()) as { ready: boolean }).ready).toBe(false);

      // Recorded by another process, counted by the server: once each, however often it is scraped.
      for (let scrape = 0; scrape < 2; scrape++) {
        const text = await (await fetch(`${base}/metrics`)).text();
        for (const action of ["ram_check", "prune"]) {
          expect(
            metricValue(text, "sarai_proactive_actions_total", { action, result: "succeeded" }),
            action,
          ).toBe(1);
          expect(metricValue(text, "sarai_proactive_action_duration_seconds_count", { action }), action).toBe(
            1,
          );
        }
      }
    }, 60_000);

    it("records a failed prune (exit 1, no crash) when the server is down", async () => {
      const closed = `http://127.0.0.1:${await findClosedPort()}`;
      const result = await cli(["loop", "run", "prune"], {
        env: { ...env(), SARAI_PROACTIVE_SERVER_URL: closed },
      });
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/^prune failed \(attempt 1\).*cannot reach the server at http:\/\/127/m);
      expectNoStackTrace(result);
      const history = await cli(["loop", "history", "--action", "prune", "--json"], { env: env() });
      expect(history.code, history.stderr).toBe(0);
      const runs = JSON.parse(history.stdout) as { outcome: string; error: string }[];
      expect(runs[0]).toMatchObject({ outcome: "failed" });
      expect(runs[0]?.error).toContain("ECONNREFUSED");
    }, 30_000);
  });

  describe("the RAM check of a loop in another process", () => {
    const settings: LoopSettings = {
      maxRssBytes: 1000 * mib,
      minAvailableBytes: 500 * mib,
      minFreeDiskBytes: 0,
      logRetentionDays: 14,
      logMaxTotalBytes: 500 * mib,
      factRetentionDays: 365,
      idleMs: 5 * 60_000,
      suggestionsPerHour: 2,
    };
    const serverReadings = { rss: 0 };
    let ts: TestServer;
    let store: JobStore;
    let dir: string;

    beforeAll(async () => {
      ts = await startTestServer({
        proactive: { inServer: false },
        // The server's readings: the RSS it reports is exactly the one set here.
        loop: {
          readings: {
            rssBytes: () => serverReadings.rss,
            availableMemoryBytes: () => 8192 * mib,
            freeDiskBytes: () => Promise.resolve(8192 * mib),
          },
        },
      });
      dir = await mkdtemp(path.join(os.tmpdir(), "sarai-loop-rss-"));
      store = JobStore.open({ file: path.join(dir, "loop.db") });
    });
    afterAll(async () => {
      store.close();
      await ts.close();
      await rm(dir, { recursive: true, force: true });
    });

    it("compares the server's RSS at the exact boundary, not its own, and prunes the server's model", async () => {
      await ts.app.pool.load("main");
      const ports: LoopPorts = {
        store,
        // This process's own RSS is far over the limit: a check that read it would always be high.
        readings: {
          rssBytes: () => 10_000 * mib,
          availableMemoryBytes: () => 8192 * mib,
          freeDiskBytes: () => Promise.resolve(8192 * mib),
        },
        server: createLoopbackModelServer({ serverUrl: ts.url }),
        logDir: path.join(dir, "logs"),
        stateDir: dir,
      };
      const scheduler = new Scheduler({
        store,
        clock: new ManualClock(Date.UTC(2026, 10, 24, 10)),
        actions: createBuiltinActions(ports, settings),
        schedules: [
          {
            action: "ram_check",
            priority: 8,
            timeoutMs: 10_000,
            retries: 0,
            backoffMs: 0,
            catchUp: "skip",
            args: {},
          },
          {
            action: "prune",
            on: ["ram_high"],
            priority: 9,
            timeoutMs: 10_000,
            retries: 0,
            backoffMs: 0,
            catchUp: "skip",
            args: {},
          },
        ],
        concurrency: 2,
      });
      const check = async () => {
        const job = scheduler.enqueue("ram_check");
        await scheduler.settle();
        return store.get(job.id)?.result as { high: boolean; rssBytes: number; rssOf: string };
      };

      serverReadings.rss = settings.maxRssBytes;
      expect(await check()).toMatchObject({ high: false, rssBytes: settings.maxRssBytes, rssOf: "server" });
      expect(store.jobs({ action: "prune" })).toHaveLength(0);
      expect((await ts.app.pool.detailedStatus()).find((s) => s.role === "main")?.loaded).toBe(true);

      serverReadings.rss = settings.maxRssBytes + 1;
      expect(await check()).toMatchObject({ high: true, rssBytes: settings.maxRssBytes + 1 });
      const [prune] = store.jobs({ action: "prune" });
      expect(prune).toMatchObject({ status: "succeeded" });
      expect(prune?.result).toMatchObject({
        unloadedModels: ["main model"],
        droppedCaches: expect.arrayContaining(["memory statistics"]) as unknown,
        rssBeforeBytes: settings.maxRssBytes + 1,
        in: "server",
      });
      expect((await ts.app.pool.detailedStatus()).find((s) => s.role === "main")?.loaded).toBe(false);
    });
  });
});
