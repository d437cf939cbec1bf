import { spawn } from "node:child_process";
import Database from "better-sqlite3";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EntityStore } from "../src/memory/index.js";
import { JobStore } from "../src/proactive/index.js";
import { startTestServer, waitFor, type TestServer } from "./api-helpers.js";
import { createCliRunner, expectNoStackTrace } from "./cli-helpers.js";
import { startFakeOpenAiServer, type FakeOpenAiServer } from "./fake-openai-server.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const tsx = pathToFileURL(path.join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;
const months = [
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

interface RunJson {
  job: { id: number; action: string; status: string; result: unknown; lastError: string | null };
  runs: { outcome: string; error: string | null }[];
  ranBy: "loop" | "cli";
}

describe("cli", () => {
  describe("loop", () => {
    let dir: string;
    let fake: FakeOpenAiServer;
    const cli = createCliRunner(() => dir);
    // Every command talks to the fake server for model work; it records what `sarai loop` sends.
    const env = () => ({ SARAI_PROACTIVE_SERVER_URL: fake.origin, SARAI_LOG_FILE: "false" });

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), "sarai-cli-loop-"));
      fake = await startFakeOpenAiServer();
    });
    afterAll(async () => {
      await fake.close();
      await rm(dir, { recursive: true, force: true });
    });

    it("prints the actions with their schedules and next runs, and no running process", async () => {
      const text = await cli(["loop", "status"], { env: env() });
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toContain("no process running");
      expect(text.stdout).toMatch(/^ram_check\s+\*\/5 \* \* \* \*, on model_error\s+8\s+\d{4}-/m);
      expect(text.stdout).toMatch(/^prune\s+on ram_high\s+9\s+-/m);
      expect(text.stdout).toMatch(/^lora_training\s+20 3 \* \* \*\s+1\s+\d{4}-/m);

      const json = await cli(["loop", "status", "--json"], { env: env() });
      const status = JSON.parse(json.stdout) as { running: boolean; restarts: number; actions: unknown[] };
      expect(status).toMatchObject({ running: false, restarts: 0 });
      expect(status.actions).toHaveLength(10);
    });

    it("refuses an unknown action, bad JSON and bad arguments with exit 2 and a clear message", async () => {
      const cases: [string[], RegExp][] = [
        [["loop", "run", "make_coffee"], /no action named "make_coffee"; known: ram_check, prune/],
        [["loop", "run", "disk_check", "--args", "{minFreeMb: 1"], /--args: not valid JSON/],
        [["loop", "run", "disk_check", "--args", "[1]"], /--args: must be a JSON object/],
        [["loop", "run", "disk_check", "--args", '{"minFreeMb": -1}'], /args\.minFreeMb: /],
        [["loop", "history", "--action", "make_coffee"], /--action: no action named "make_coffee"/],
        [["loop", "history", "--limit", "zero"], /--limit must be a number above 0/],
      ];
      // Three at a time: each is a Node start, and none writes more than the loop database's first migration.
      const results = [];
      for (let i = 0; i < cases.length; i += 3)
        results.push(
          ...(await Promise.all(cases.slice(i, i + 3).map(([args]) => cli(args, { env: env() })))),
        );
      for (const [index, [args, message]] of cases.entries()) {
        const result = results[index] as Awaited<ReturnType<typeof cli>>;
        expect(result.code, args.join(" ")).toBe(2);
        expect(result.stderr).toMatch(message);
        expect(result.stdout).toBe("");
        expectNoStackTrace(result);
      }
    });

    it("runs an action in-process when no loop is alive, and lists it in the history", async () => {
      const result = await cli(["loop", "run", "disk_check", "--args", '{"minFreeMb": 1}', "--json"], {
        env: env(),
      });
      expect(result.code, result.stderr).toBe(0);
      const run = JSON.parse(result.stdout) as RunJson;
      expect(run.ranBy).toBe("cli");
      expect(run.job).toMatchObject({ action: "disk_check", status: "succeeded" });
      expect(run.job.result).toMatchObject({ low: false, minFreeBytes: 2 ** 20 });
      expect(run.runs).toHaveLength(1);

      const history = await cli(["loop", "history", "--action", "disk_check"], { env: env() });
      expect(history.code).toBe(0);
      expect(history.stdout).toMatch(/^started\s+action\s+trigger/);
      expect(history.stdout).toMatch(/disk_check\s+manual\s+1\s+succeeded/);
    });

    /** A user idle for 10 minutes with a birthday two days ahead (actionable) in memory. */
    const seedIdleUser = (userId: string) => {
      const day = new Date(Date.now() + 2 * 86_400_000);
      const memory = EntityStore.open({ file: path.join(dir, "state", "sarai.db") });
      memory.remember({
        userId,
        subject: "Lucía",
        relation: "birthday",
        object: `${day.getDate()} de ${months[day.getMonth()]}`,
        negated: false,
        confidence: 0.95,
        source: "manual",
        when: null,
        pinned: false,
      });
      memory.close();
      const loopDb = JobStore.open({ file: path.join(dir, "state", "loop.db") });
      loopDb.touchUser(userId, Date.now() - 10 * 60_000);
      loopDb.close();
    };

    it("asks the server for an idle suggestion over loopback and delivers it to the feed", async () => {
      seedIdleUser("ana");
      const before = fake.requests.length;
      const result = await cli(["loop", "run", "idle_suggestion", "--args", '{"userId": "ana"}', "--json"], {
        env: env(),
      });
      expect(result.code, result.stderr).toBe(0);
      const run = JSON.parse(result.stdout) as RunJson;
      expect(run.job.status).toBe("succeeded");

      const sent = fake.requests.slice(before);
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatchObject({ method: "POST", path: "/v1/chat/completions" });
      const body = sent[0]?.body as {
        messages: { role: string; content: string }[];
        max_tokens: number;
        user: string;
      };
      expect(body.max_tokens).toBeLessThanOrEqual(128);
      // Never as the user the suggestion is for: that would count as her turn.
      expect(body.user).toBe("sarai-loop");
      expect(body.messages.map((m) => m.role)).toEqual(["system", "user"]);
      expect(body.messages[1]?.content).toContain("Lucía");

      const loopDb = JobStore.open({ file: path.join(dir, "state", "loop.db"), readonly: true });
      try {
        const [notification] = loopDb.notifications("ana");
        // The fake server's scripted reply, cleaned into one line.
        expect(notification?.text).toBe("¡Hola! Soy SARAi 🙂 — ¿en qué te ayudo?");
      } finally {
        loopDb.close();
      }
    });

    it("records a failed run (exit 1) when the server cannot be reached", async () => {
      seedIdleUser("bea");
      const result = await cli(["loop", "run", "idle_suggestion", "--args", '{"userId": "bea"}'], {
        env: { ...env(), SARAI_PROACTIVE_SERVER_URL: "http://127.0.0.1:9" },
      });
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/idle_suggestion (failed|is still pending).*cannot reach the server/);
      expectNoStackTrace(result);
    });

    it("expires the image cache from its own process, and fails the run when the cache file cannot be used", async () => {
      const ok = await cli(["loop", "run", "image_cache_expiry", "--json"], { env: env() });
      expect(ok.code, ok.stderr).toBe(0);
      expect(JSON.parse(ok.stdout)).toMatchObject({
        job: { status: "succeeded", result: { removed: 0, freedBytes: 0 } },
      });
      // A newer SARAi's index: the cache leaves it alone and falls back to memory, so there is nothing to expire.
      const index = path.join(dir, "state", "image-cache", "index.db");
      const db = new Database(index);
      db.pragma("user_version = 99");
      db.close();
      const refused = await cli(["loop", "run", "image_cache_expiry"], { env: env() });
      expect(refused.code).toBe(1);
      expect(refused.stdout).toMatch(/image_cache_expiry failed.*the image cache could not be opened/);
      expectNoStackTrace(refused);
      const after = new Database(index, { readonly: true });
      expect(after.pragma("user_version", { simple: true })).toBe(99);
      after.close();
    });

    it("runs as its own process: logs its start, serves `loop run`, stops cleanly on SIGTERM", async () => {
      const child = spawn(
        process.execPath,
        ["--import", tsx, path.join(root, "src", "cli", "main.ts"), "loop"],
        {
          cwd: dir,
          env: {
            PATH: process.env["PATH"] ?? "",
            HOME: dir,
            SARAI_PATHS_DATA_DIR: dir,
            ...env(),
            SARAI_PROACTIVE_POLL_MS: "100",
          },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      try {
        await waitFor("the loop's start line", () => stderr.includes("proactive loop started"), 30_000);
        const start = JSON.parse(
          stderr.split("\n").find((l) => l.includes("proactive loop started")) ?? "{}",
        ) as {
          starts: number;
          pid: number;
        };
        expect(start.pid).toBe(child.pid);
        expect(start.starts).toBeGreaterThanOrEqual(1);

        const result = await cli(["loop", "run", "disk_check", "--json"], { env: env() });
        expect(result.code, result.stderr).toBe(0);
        const run = JSON.parse(result.stdout) as RunJson;
        expect(run.ranBy).toBe("loop");
        expect(run.job.status).toBe("succeeded");

        const status = JSON.parse((await cli(["loop", "status", "--json"], { env: env() })).stdout) as {
          processes: { pid: number; alive: boolean }[];
        };
        expect(status.processes.find((p) => p.pid === child.pid)?.alive).toBe(true);
      } finally {
        child.kill("SIGTERM");
      }
      expect(await exited).toBe(0);
      expect(stdout).toBe("");
      expect(stderr).toContain("proactive loop stopped");
    });
  });

  describe("loop with a real server", () => {
    let ts: TestServer;
    const cli = createCliRunner(() => ts.app.config.paths.dataDir);
    beforeAll(async () => {
      ts = await startTestServer({ proactive: { inServer: false } });
    });
    afterAll(async () => {
      await ts.close();
    });

    it("gets the idle suggestion written by the server's model and delivers it to the server's feed", async () => {
      const day = new Date(Date.now() + 2 * 86_400_000);
      const added = await fetch(`${ts.url}/v1/memory/facts`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          user: "ana",
          subject: "Lucía",
          relation: "birthday",
          object: `${day.getDate()} de ${months[day.getMonth()]}`,
        }),
      });
      expect(added.status).toBe(201);
      ts.app.loop?.store.touchUser("ana", Date.now() - 10 * 60_000);
      const generated = ts.app.metrics.generatedTokens;
      const before = (await generated.get()).values.reduce((sum, v) => sum + v.value, 0);

      // No loop process is alive, so the CLI runs it; the model lives in the server only.
      const result = await cli(["loop", "run", "idle_suggestion", "--args", '{"userId": "ana"}', "--json"], {
        env: { SARAI_PROACTIVE_SERVER_URL: ts.url, SARAI_LOG_FILE: "false" },
      });
      expect(result.code, result.stdout + result.stderr).toBe(0);
      const run = JSON.parse(result.stdout) as RunJson;
      expect(run.ranBy).toBe("cli");
      expect(run.job.result).toMatchObject({ delivered: true });

      const after = (await generated.get()).values.reduce((sum, v) => sum + v.value, 0);
      expect(after).toBeGreaterThan(before);
      const feed = (await (await fetch(`${ts.url}/v1/notifications?user=ana`)).json()) as {
        data: { text: string; kind: string }[];
      };
      expect(feed.data).toHaveLength(1);
      expect(feed.data[0]?.text.length).toBeGreaterThan(0);
    });
  });
});
