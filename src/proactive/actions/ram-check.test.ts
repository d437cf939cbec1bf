import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defaultActionSchedules } from "../defaults.js";
import { JobStore } from "../job-store.js";
import type { LoopPorts, LoopSettings, Pruner } from "../ports.js";
import { ManualClock, Scheduler } from "../scheduler.js";
import { createBuiltinActions } from "./index.js";

const mib = 2 ** 20;
const settings: LoopSettings = {
  maxRssBytes: 1000 * mib,
  minAvailableBytes: 500 * mib,
  minFreeDiskBytes: 1024 * mib,
  logRetentionDays: 14,
  logMaxTotalBytes: 500 * mib,
  factRetentionDays: 365,
  idleMs: 5 * 60_000,
  suggestionsPerHour: 2,
};

let dir: string;
let store: JobStore;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sarai-ram-"));
  store = JobStore.open({ file: path.join(dir, "loop.db") });
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The built-in actions on their default event triggers (no cron: each test runs what it names). */
function loop(readings: { rss: number; available: number }, pruner?: Pruner) {
  const ports: LoopPorts = {
    store,
    readings: {
      rssBytes: () => readings.rss,
      availableMemoryBytes: () => readings.available,
      freeDiskBytes: () => Promise.resolve(10 * 1024 * mib),
    },
    pruner,
    logDir: path.join(dir, "logs"),
    stateDir: dir,
  };
  const schedules = Object.entries(defaultActionSchedules).map(([action, timing]) => ({
    action,
    ...timing,
    schedule: undefined,
    args: {},
  }));
  const clock = new ManualClock(Date.UTC(2026, 10, 24, 10, 2, 30));
  return new Scheduler({
    store,
    clock,
    actions: createBuiltinActions(ports, settings),
    schedules,
    concurrency: 2,
  });
}

async function check(scheduler: Scheduler, args?: unknown) {
  const job = scheduler.enqueue("ram_check", args);
  await scheduler.settle();
  const done = store.get(job.id);
  expect(done?.status).toBe("succeeded");
  return done?.result as { high: boolean; reasons: string[]; rssBytes: number; availableBytes: number };
}

/** A pruner that frees memory from the readings it is given. */
function fakePruner(readings: { rss: number }, freeBytes: number) {
  const calls: string[] = [];
  const pruner: Pruner = {
    unloadIdleModels() {
      calls.push("unload");
      readings.rss -= freeBytes;
      return Promise.resolve(["main"]);
    },
    dropCaches() {
      calls.push("caches");
      return Promise.resolve(["recall"]);
    },
  };
  return { pruner, calls };
}

describe("proactive loop", () => {
  describe("ram_check", () => {
    it("treats an RSS exactly at the maximum as fine and one byte over as high", async () => {
      const readings = { rss: settings.maxRssBytes, available: 4000 * mib };
      const scheduler = loop(readings);
      expect(await check(scheduler)).toMatchObject({ high: false, reasons: [] });
      readings.rss = settings.maxRssBytes - 1;
      expect((await check(scheduler)).high).toBe(false);
      readings.rss = settings.maxRssBytes + 1;
      expect(await check(scheduler)).toMatchObject({ high: true, reasons: ["rss_above_max"] });
      // Only the last check emitted ram_high, so prune ran once.
      expect(store.jobs({ action: "prune" })).toHaveLength(1);
    });

    it("treats available memory exactly at the minimum as fine and one byte under as high", async () => {
      const readings = { rss: 100 * mib, available: settings.minAvailableBytes };
      const scheduler = loop(readings);
      expect((await check(scheduler)).high).toBe(false);
      readings.available = settings.minAvailableBytes + 1;
      expect((await check(scheduler)).high).toBe(false);
      readings.available = settings.minAvailableBytes - 1;
      expect(await check(scheduler)).toMatchObject({
        high: true,
        reasons: ["available_below_min"],
        availableBytes: settings.minAvailableBytes - 1,
      });
      expect(store.jobs({ action: "prune" })).toHaveLength(1);
    });

    it("takes thresholds from a manual run's arguments and refuses unknown ones", async () => {
      const readings = { rss: 300 * mib, available: 4000 * mib };
      const scheduler = loop(readings);
      expect((await check(scheduler, { maxRssMb: 300 })).high).toBe(false);
      expect((await check(scheduler, { maxRssMb: 299 })).high).toBe(true);
      expect(() => scheduler.enqueue("ram_check", { maxRss: 1 })).toThrow(/maxRss/);
    });
  });

  describe("prune", () => {
    it("runs on ram_high, unloads idle models and drops caches, and reports RSS before and after", async () => {
      const readings = { rss: 1200 * mib, available: 4000 * mib };
      const { pruner, calls } = fakePruner(readings, 400 * mib);
      const scheduler = loop(readings, pruner);
      await check(scheduler);
      const [prune] = store.jobs({ action: "prune" });
      expect(prune).toMatchObject({ status: "succeeded", trigger: "event:ram_high" });
      expect(calls).toEqual(["unload", "caches"]);
      expect(prune?.result).toEqual({
        unloadedModels: ["main"],
        droppedCaches: ["recall"],
        rssBeforeBytes: 1200 * mib,
        rssAfterBytes: 800 * mib,
        freedMb: 400,
      });
    });

    it("still drops caches when unloading fails, and records the failure", async () => {
      const readings = { rss: 1200 * mib, available: 4000 * mib };
      const calls: string[] = [];
      const pruner: Pruner = {
        unloadIdleModels: () => Promise.reject(new Error("pool busy")),
        dropCaches() {
          calls.push("caches");
          return Promise.resolve([]);
        },
      };
      const scheduler = loop(readings, pruner);
      const job = scheduler.enqueue("prune");
      await scheduler.settle();
      expect(calls).toEqual(["caches"]);
      // The failed attempt is recorded; prune's default policy retries it once, later.
      expect(store.runs({ action: "prune" })[0]).toMatchObject({
        outcome: "failed",
        error: expect.stringMatching(/pool busy/) as unknown,
      });
      expect(store.get(job.id)).toMatchObject({ status: "pending", attempts: 1 });
    });

    it("records that there is nothing to prune in a process without a pruner", async () => {
      const scheduler = loop({ rss: 1200 * mib, available: 4000 * mib });
      await check(scheduler);
      expect(store.jobs({ action: "prune" })[0]).toMatchObject({
        status: "succeeded",
        result: { skipped: expect.stringMatching(/nothing to prune/) as unknown },
      });
    });
  });
});
