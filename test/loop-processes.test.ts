import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobStore } from "../src/proactive/index.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const tsx = pathToFileURL(path.join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;
const worker = path.join(root, "test", "fixtures", "loop-worker.ts");
const dayStart = Date.UTC(2026, 10, 23);

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sarai-loop-procs-"));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Worker {
  ready: Promise<void>;
  start(t0: number): void;
  done: Promise<{ owner: string; runs: number }>;
}

function spawnWorker(file: string, seconds: number): Worker {
  const child = spawn(process.execPath, ["--import", tsx, worker, file, String(seconds), String(dayStart)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve)).finally(() =>
    clearTimeout(timer),
  );
  const ready = new Promise<void>((resolve, reject) => {
    const check = () => {
      if (/^ready$/m.test(stdout)) resolve();
    };
    child.stdout.on("data", check);
    void exited.then(() => reject(new Error(`worker exited before it was ready:\n${stdout}\n${stderr}`)));
  });
  const done = exited.then((code) => {
    const match = /^done (\S+) (\d+)$/m.exec(stdout);
    if (code !== 0 || match === null) throw new Error(`worker exit ${String(code)}:\n${stdout}\n${stderr}`);
    return { owner: match[1] as string, runs: Number(match[2]) };
  });
  return { ready, done, start: (t0) => child.stdin.end(`${t0}\n`) };
}

describe("proactive loop", () => {
  describe("two loop processes on one database", () => {
    it("run every schedule slot of a simulated day exactly once between them", async () => {
      const file = path.join(dir, "loop.db");
      JobStore.open({ file }).close(); // created before both start, so neither migrates under the other
      const workers = [spawnWorker(file, 8), spawnWorker(file, 8)];
      await Promise.all(workers.map((w) => w.ready));
      // Both are up and get the same start, a moment ahead, so simulated time starts moving for both at once.
      const t0 = Date.now() + 200;
      for (const w of workers) w.start(t0);
      const [a, b] = (await Promise.all(workers.map((w) => w.done))) as [
        { owner: string; runs: number },
        { owner: string; runs: number },
      ];
      const store = JobStore.open({ file });
      try {
        const runs = store.runs({ limit: 100_000 });
        const jobs = store.jobs({ limit: 100_000 }).filter((j) => j.status !== "skipped");
        const expected = { every_minute: 24 * 60 + 1, every_5: 24 * 12 + 1, hourly: 25 };
        for (const [action, count] of Object.entries(expected)) {
          const ofAction = jobs.filter((j) => j.action === action);
          expect(ofAction.length, action).toBe(count);
          expect(new Set(ofAction.map((j) => j.slot)).size, action).toBe(count);
          expect(
            ofAction.every((j) => j.status === "succeeded" && j.attempts === 1),
            action,
          ).toBe(true);
        }
        const total = Object.values(expected).reduce((sum, n) => sum + n, 0);
        expect(runs).toHaveLength(total);
        expect(a.runs + b.runs).toBe(total);
        // Both processes took part: the slots were contended, not served by one alone.
        expect(a.runs).toBeGreaterThan(0);
        expect(b.runs).toBeGreaterThan(0);
        expect(new Set(runs.map((r) => r.owner))).toEqual(new Set([a.owner, b.owner]));
      } finally {
        store.close();
      }
    });
  });
});
