import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EntityStore } from "../../memory/index.js";
import { defaultActionSchedules } from "../defaults.js";
import { createEntityMemoryPort } from "../entity-memory-port.js";
import { JobStore } from "../job-store.js";
import type { LoopPorts, LoopSettings } from "../ports.js";
import { ManualClock, Scheduler } from "../scheduler.js";
import { createBuiltinActions } from "./index.js";

const day = 86_400_000;
const settings: LoopSettings = {
  maxRssBytes: 2 ** 30,
  minAvailableBytes: 0,
  minFreeDiskBytes: 0,
  logRetentionDays: 14,
  logMaxTotalBytes: 2 ** 29,
  factRetentionDays: 90,
  idleMs: 300_000,
  suggestionsPerHour: 2,
};

let dir: string;
let store: JobStore;
let facts: EntityStore;
let clock: ManualClock;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sarai-maint-"));
  store = JobStore.open({ file: path.join(dir, "loop.db") });
  clock = new ManualClock(Date.UTC(2026, 0, 5, 3, 0, 0));
  facts = EntityStore.open({ file: path.join(dir, "memory.db"), now: () => clock.now() });
});

afterEach(() => {
  facts.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function scheduler(memory = true): Scheduler {
  const ports: LoopPorts = {
    store,
    readings: { rssBytes: () => 0, availableMemoryBytes: () => 0, freeDiskBytes: () => Promise.resolve(0) },
    memory: memory ? createEntityMemoryPort(facts) : undefined,
    logDir: path.join(dir, "logs"),
    stateDir: dir,
  };
  const schedules = [
    { action: "memory_maintenance", ...defaultActionSchedules.memory_maintenance, args: {} },
  ];
  return new Scheduler({
    store,
    clock,
    actions: createBuiltinActions(ports, settings),
    schedules,
    concurrency: 1,
  });
}

function remember(object: string, pinned = false) {
  facts.remember({
    userId: "ana",
    subject: "usuario",
    relation: "likes",
    object,
    confidence: 0.9,
    source: "user_input",
    pinned,
  });
}

describe("proactive loop", () => {
  describe("memory_maintenance", () => {
    it("rotates out unpinned facts past the retention period, vacuums and reports MB saved", async () => {
      // Old enough to rotate out: 200 facts with long objects, so the vacuum has something to give back.
      for (let i = 0; i < 200; i++) remember(`libro número ${i} ${"x".repeat(200)}`);
      remember("ajedrez", true);
      clock.advance(100 * day);
      remember("café");
      const loop = scheduler();
      const job = loop.enqueue("memory_maintenance");
      await loop.settle();
      const result = store.get(job.id)?.result as Record<string, number>;
      expect(result).toMatchObject({ retentionDays: 90, factsRotated: 200 });
      expect(result.bytesAfter).toBeLessThan(result.bytesBefore as number);
      expect(result.mbSaved).toBeCloseTo(
        ((result.bytesBefore as number) - (result.bytesAfter as number)) / 2 ** 20,
        2,
      );
      expect(
        facts
          .list("ana")
          .map((f) => f.object)
          .sort(),
      ).toEqual(["ajedrez", "café"]);
    });

    it("takes the retention from a manual run's arguments", async () => {
      remember("té");
      clock.advance(10 * day);
      const loop = scheduler();
      const keep = loop.enqueue("memory_maintenance", { days: 11 });
      await loop.settle();
      expect(store.get(keep.id)?.result).toMatchObject({ factsRotated: 0 });
      const drop = loop.enqueue("memory_maintenance", { days: 9 });
      await loop.settle();
      expect(store.get(drop.id)?.result).toMatchObject({ factsRotated: 1 });
    });

    it("records a skip when memory is turned off", async () => {
      const loop = scheduler(false);
      const job = loop.enqueue("memory_maintenance");
      await loop.settle();
      expect(store.get(job.id)).toMatchObject({
        status: "succeeded",
        result: { skipped: "memory is turned off" },
      });
    });
  });
});
