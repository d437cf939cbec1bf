import { execFile } from "node:child_process";
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

function runWorker(file: string, t0: number, seconds: number): Promise<{ owner: string; runs: number }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--import", tsx, worker, file, String(t0), String(seconds), String(dayStart)],
      { timeout: 120_000 },
      (error, stdout, stderr) => {
        if (error !== null) return reject(new Error(`${error.message}\n${stderr}`));
        const match = /^done (\S+) (\d+)$/m.exec(stdout);
        if (match === null) return reject(new Error(`unexpected output: ${stdout}\n${stderr}`));
        resolve({ owner: match[1] as string, runs: Number(match[2]) });
      },
    );
  });
}

describe("proactive loop", () => {
  describe("two loop processes on one database", () => {
    it("run every schedule slot of a simulated day exactly once between them", async () => {
      const file = path.join(dir, "loop.db");
      JobStore.open({ file }).close(); // created before both start, so neither migrates under the other
      const t0 = Date.now() + 1500; // both workers are up before simulated time starts moving
      const [a, b] = await Promise.all([runWorker(file, t0, 8), runWorker(file, t0, 8)]);
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
