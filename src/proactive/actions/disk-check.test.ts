import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JobStore } from "../job-store.js";
import type { LoopPorts, LoopSettings } from "../ports.js";
import { ManualClock, Scheduler, type LoopEvent } from "../scheduler.js";
import { createBuiltinActions } from "./index.js";

const mib = 2 ** 20;
const settings: LoopSettings = {
  maxRssBytes: 2 ** 40,
  minAvailableBytes: 0,
  minFreeDiskBytes: 1024 * mib,
  logRetentionDays: 14,
  logMaxTotalBytes: 500 * mib,
  factRetentionDays: 365,
  idleMs: 300_000,
  suggestionsPerHour: 2,
};

let dir: string;
let store: JobStore;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sarai-disk-"));
  store = JobStore.open({ file: path.join(dir, "loop.db") });
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function loop(free: { bytes: number }) {
  const asked: string[] = [];
  const ports: LoopPorts = {
    store,
    readings: {
      rssBytes: () => 0,
      availableMemoryBytes: () => 2 ** 40,
      freeDiskBytes: (folder) => {
        asked.push(folder);
        return Promise.resolve(free.bytes);
      },
    },
    logDir: path.join(dir, "logs"),
    stateDir: dir,
  };
  const scheduler = new Scheduler({
    store,
    clock: new ManualClock(Date.UTC(2026, 10, 24, 10, 2, 30)),
    actions: createBuiltinActions(ports, settings),
    schedules: [
      {
        action: "disk_check",
        priority: 7,
        timeoutMs: 10_000,
        retries: 0,
        backoffMs: 1000,
        catchUp: "skip",
        args: {},
      },
    ],
    concurrency: 1,
  });
  const events: LoopEvent[] = [];
  scheduler.subscribe((event) => events.push(event));
  return { scheduler, events, asked };
}

async function check(scheduler: Scheduler, args?: unknown) {
  const job = scheduler.enqueue("disk_check", args);
  await scheduler.settle();
  return store.get(job.id)?.result as { low: boolean; freeBytes: number; minFreeBytes: number };
}

describe("proactive loop", () => {
  describe("disk_check", () => {
    it("emits disk_low one byte under the minimum, not at it or above", async () => {
      const free = { bytes: settings.minFreeDiskBytes + 1 };
      const { scheduler, events, asked } = loop(free);
      expect((await check(scheduler)).low).toBe(false);
      free.bytes = settings.minFreeDiskBytes;
      expect((await check(scheduler)).low).toBe(false);
      free.bytes = settings.minFreeDiskBytes - 1;
      expect(await check(scheduler)).toMatchObject({ low: true, freeBytes: settings.minFreeDiskBytes - 1 });
      expect(events.map((e) => e.name)).toEqual(["disk_low"]);
      expect(events[0]?.payload).toMatchObject({ dir, low: true });
      expect(new Set(asked)).toEqual(new Set([dir]));
    });

    it("takes the minimum from a manual run's arguments", async () => {
      const { scheduler } = loop({ bytes: 100 * mib });
      expect((await check(scheduler, { minFreeMb: 100 })).low).toBe(false);
      expect((await check(scheduler, { minFreeMb: 101 })).low).toBe(true);
      expect(() => scheduler.enqueue("disk_check", { minFreeMb: -1 })).toThrow(/minFreeMb/);
    });
  });
});
