import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobStore, type Job } from "../src/proactive/index.js";
import { startTestServer, waitFor, type TestServer } from "./api-helpers.js";
import { createCliRunner, expectNoStackTrace } from "./cli-helpers.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const tsx = pathToFileURL(path.join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;

/** A custom event mapped to disk_check, with configured args that make 1 MiB free enough. */
const config = [
  "proactive:",
  "  pollMs: 100",
  "  actions:",
  "    disk_check: { on: [backup_done], args: { minFreeMb: 1 } }",
  "",
].join("\n");

describe("proactive loop", () => {
  describe("custom events from outside", () => {
    let dir: string;
    const cli = createCliRunner(() => dir);
    // Nothing here needs the server: emit writes the event's jobs to the loop database.
    const env = { SARAI_PROACTIVE_SERVER_URL: "http://127.0.0.1:9", SARAI_LOG_FILE: "false" };
    const job = (id: number): Job | undefined => {
      const store = JobStore.open({ file: path.join(dir, "state", "loop.db"), readonly: true });
      try {
        return store.get(id);
      } finally {
        store.close();
      }
    };

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), "sarai-loop-emit-"));
      await writeFile(path.join(dir, "sarai.yaml"), config);
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it("`sarai loop emit` queues the mapped action, which a running `sarai loop` runs with the event's data", async () => {
      const child = spawn(
        process.execPath,
        ["--import", tsx, path.join(root, "src", "cli", "loop-main.ts"), "loop"],
        {
          cwd: dir,
          env: { PATH: process.env["PATH"] ?? "", HOME: dir, SARAI_PATHS_DATA_DIR: dir, ...env },
          stdio: ["ignore", "ignore", "pipe"],
        },
      );
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      try {
        await waitFor("the loop's start line", () => stderr.includes("proactive loop started"), 30_000);
        const result = await cli(["loop", "emit", "backup_done", "--data", '{"file": "a.tar"}', "--json"], {
          env,
        });
        expect(result.code, result.stderr).toBe(0);
        const emitted = JSON.parse(result.stdout) as { name: string; jobs: Job[]; loopAlive: boolean };
        expect(emitted).toMatchObject({ name: "backup_done", loopAlive: true });
        expect(emitted.jobs.map((j) => [j.action, j.trigger])).toEqual([["disk_check", "event:backup_done"]]);
        const id = emitted.jobs[0]?.id ?? 0;
        await waitFor("the loop to run the event's job", () => job(id)?.status === "succeeded", 15_000);
        const done = job(id);
        // The configured args, and the event with its data.
        expect(done?.result).toMatchObject({ minFreeBytes: 2 ** 20 });
        expect(done?.args).toMatchObject({
          args: { minFreeMb: 1 },
          event: { name: "backup_done", payload: { file: "a.tar" } },
        });
      } finally {
        child.kill("SIGTERM");
      }
      expect(await exited).toBe(0);
    }, 60_000);

    it("says when nothing listens, and refuses a bad name or data with exit 2", async () => {
      const none = await cli(["loop", "emit", "nobody_listens"], { env });
      expect(none.code, none.stderr).toBe(0);
      expect(none.stdout).toContain('no action listens for "nobody_listens"');

      const results = await Promise.all([
        cli(["loop", "emit", "Backup-Done"], { env }),
        cli(["loop", "emit", "backup_done", "--data", "[1]"], { env }),
        cli(["loop", "emit", "backup_done", "--data", "{x"], { env }),
      ]);
      const messages = [
        /"Backup-Done" is not an event name/,
        /--data: must be a JSON object/,
        /--data: not valid JSON/,
      ];
      for (const [index, result] of results.entries()) {
        expect(result.code).toBe(2);
        expect(result.stderr).toMatch(messages[index] as RegExp);
        expectNoStackTrace(result);
      }
    }, 60_000);

    it("refuses configured args the action does not take, naming the path (exit 1)", async () => {
      const file = path.join(dir, "bad.yaml");
      await writeFile(file, "proactive:\n  actions:\n    log_retention: { args: { days: 0 } }\n");
      const result = await cli(["--config", file, "loop", "status"], { env });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/CONFIG_INVALID.*proactive\.actions\.log_retention\.args\.days: /);
      expectNoStackTrace(result);
    }, 30_000);
  });

  describe("POST /v1/loop/events/{name}", () => {
    let ts: TestServer;
    beforeAll(async () => {
      ts = await startTestServer({
        listen: false,
        proactive: { pollMs: 50, actions: { disk_check: { on: ["backup_done"], args: { minFreeMb: 1 } } } },
      });
      ts.app.loop?.start();
    });
    afterAll(async () => {
      await ts.close();
    });

    it("puts the event on the bus (202) and the mapped action runs with its data", async () => {
      const response = await ts.server.fastify.inject({
        method: "POST",
        url: "/v1/loop/events/backup_done",
        payload: { data: { file: "b.tar" } },
      });
      expect(response.statusCode).toBe(202);
      const body = response.json<{ object: string; name: string; jobs: { id: number; action: string }[] }>();
      expect(body).toMatchObject({ object: "loop.event", name: "backup_done", loop_alive: true });
      expect(body.jobs.map((j) => j.action)).toEqual(["disk_check"]);
      const id = body.jobs[0]?.id ?? 0;
      await waitFor("the job", () => ts.app.loop?.store.get(id)?.status === "succeeded");
      expect(ts.app.loop?.store.get(id)?.args).toMatchObject({
        event: { name: "backup_done", payload: { file: "b.tar" } },
      });

      const none = await ts.server.fastify.inject({ method: "POST", url: "/v1/loop/events/nobody_listens" });
      expect(none.statusCode).toBe(202);
      expect(none.json<{ jobs: unknown[] }>().jobs).toEqual([]);
    });
  });
});
