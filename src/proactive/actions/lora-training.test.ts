import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JobStore } from "../job-store.js";
import type { LearningPort, LoopPorts, LoopSettings } from "../ports.js";
import { ManualClock, Scheduler } from "../scheduler.js";
import { createBuiltinActions } from "./index.js";

const settings: LoopSettings = {
  maxRssBytes: 2 ** 40,
  minAvailableBytes: 0,
  minFreeDiskBytes: 0,
  logRetentionDays: 14,
  logMaxTotalBytes: 2 ** 30,
  factRetentionDays: 365,
  idleMs: 300_000,
  suggestionsPerHour: 2,
};

let dir: string;
let store: JobStore;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sarai-lora-action-"));
  store = JobStore.open({ file: path.join(dir, "loop.db") });
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function loop(learning: LearningPort | undefined) {
  const ports: LoopPorts = {
    store,
    readings: {
      rssBytes: () => 0,
      availableMemoryBytes: () => 2 ** 40,
      freeDiskBytes: () => Promise.resolve(2 ** 40),
    },
    learning,
    logDir: path.join(dir, "logs"),
    stateDir: dir,
  };
  return new Scheduler({
    store,
    clock: new ManualClock(Date.UTC(2026, 11, 7, 3, 20, 0)),
    actions: createBuiltinActions(ports, settings),
    schedules: [
      {
        action: "lora_training",
        priority: 1,
        timeoutMs: 10_000,
        retries: 0,
        backoffMs: 1000,
        catchUp: "skip",
        args: {},
      },
    ],
    concurrency: 1,
  });
}

async function run(scheduler: Scheduler, args?: unknown) {
  const job = scheduler.enqueue("lora_training", args);
  await scheduler.settle();
  return store.get(job.id);
}

describe("lora_training", () => {
  it("says the learning loop is off when there is no port", async () => {
    const job = await run(loop(undefined));
    expect(job?.result).toEqual({ skipped: "the learning loop is turned off (learning.lora.enabled)" });
  });

  it("passes force through and reports a skip with its reason, a verdict as it is", async () => {
    const calls: boolean[] = [];
    const outcomes = [
      { outcome: "skipped" as const, reason: "2 new feedback since the last run" },
      { outcome: "promoted" as const, adapterId: "lora-20261207-032000-abcdef" },
    ];
    const scheduler = loop({
      train: (options) => {
        calls.push(options.force);
        return Promise.resolve(outcomes.shift() ?? { outcome: "refused" });
      },
    });
    expect((await run(scheduler))?.result).toMatchObject({ skipped: "2 new feedback since the last run" });
    expect((await run(scheduler, { force: true }))?.result).toEqual({
      outcome: "promoted",
      adapterId: "lora-20261207-032000-abcdef",
    });
    expect(calls).toEqual([false, true]);
    expect(() => scheduler.enqueue("lora_training", { force: "yes" })).toThrow(/force/);
  });

  it("records a failed run when training throws", async () => {
    const job = await run(
      loop({ train: () => Promise.reject(new Error("SIGNING_KEY_MISSING: run sarai keys init")) }),
    );
    expect(job?.status).toBe("failed");
    expect(job?.lastError).toMatch(/sarai keys init/);
  });
});
