import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defaultActionSchedules } from "../defaults.js";
import { JobStore } from "../job-store.js";
import type { LoopPorts, LoopSettings } from "../ports.js";
import { ManualClock, Scheduler } from "../scheduler.js";
import { createBuiltinActions, pruneLogs } from "./index.js";

const mib = 2 ** 20;
const day = 86_400_000;
const now = Date.UTC(2026, 10, 24, 10, 2, 30);

let dir: string;
let logDir: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sarai-logs-"));
  logDir = path.join(dir, "logs");
  mkdirSync(logDir);
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes `name` with `size` bytes, last modified `ageDays` before `now`. */
function logFile(name: string, size: number, ageDays: number, folder = logDir): void {
  const file = path.join(folder, name);
  writeFileSync(file, Buffer.alloc(size, 0x61));
  const time = (now - ageDays * day) / 1000;
  utimesSync(file, time, time);
}

const left = () => readdirSync(logDir).sort();

describe("proactive loop", () => {
  describe("log_retention", () => {
    it("deletes log files older than the retention period, keeping newer ones", async () => {
      logFile("sarai.1.log", 100, 30);
      logFile("sarai.2.log", 100, 15);
      logFile("sarai.3.log", 100, 13);
      logFile("sarai.4.log", 100, 0);
      const result = await pruneLogs(logDir, { now, days: 14, maxTotalBytes: mib });
      expect(result).toMatchObject({ removedFiles: ["sarai.1.log", "sarai.2.log"], removedBytes: 200 });
      expect(left()).toEqual(["sarai.3.log", "sarai.4.log"]);
    });

    it("removes the oldest files until the folder is at or under the size cap", async () => {
      logFile("sarai.1.log", 400, 5);
      logFile("sarai.2.log", 400, 4);
      logFile("sarai.3.log", 400, 3);
      logFile("sarai.4.log", 400, 0);
      const result = await pruneLogs(logDir, { now, days: 14, maxTotalBytes: 800 });
      expect(result).toMatchObject({
        removedFiles: ["sarai.1.log", "sarai.2.log"],
        removedBytes: 800,
        keptBytes: 800,
        overCap: false,
      });
      expect(left()).toEqual(["sarai.3.log", "sarai.4.log"]);
    });

    it("never deletes the file being written, even when it is old and over the cap", async () => {
      // The highest number is the file pino-roll writes, whatever its time says; the most recently modified
      // sarai log is kept too, in case another process writes that one.
      logFile("sarai.7.log", 2000, 40);
      logFile("sarai.6.log", 100, 30);
      logFile("sarai.5.log", 100, 50);
      const result = await pruneLogs(logDir, { now, days: 14, maxTotalBytes: 1000 });
      expect(result).toMatchObject({ removedFiles: ["sarai.5.log"], current: "sarai.7.log", overCap: true });
      expect(left()).toEqual(["sarai.6.log", "sarai.7.log"]);
    });

    it("follows no symlink and touches nothing but log files in the folder", async () => {
      const outside = path.join(dir, "outside");
      mkdirSync(outside);
      logFile("precious.log", 100, 60, outside);
      symlinkSync(path.join(outside, "precious.log"), path.join(logDir, "link.log"));
      symlinkSync(outside, path.join(logDir, "old.log"));
      mkdirSync(path.join(logDir, "nested.log"));
      logFile("notes.txt", 100, 60);
      logFile("sarai.1.log", 100, 60);
      logFile("sarai.2.log", 100, 0);
      const result = await pruneLogs(logDir, { now, days: 14, maxTotalBytes: 1 });
      expect(result.removedFiles).toEqual(["sarai.1.log"]);
      expect(left()).toEqual(["link.log", "nested.log", "notes.txt", "old.log", "sarai.2.log"]);
      expect(readdirSync(outside)).toEqual(["precious.log"]);
    });

    it("does nothing when the folder does not exist", async () => {
      expect(await pruneLogs(path.join(dir, "none"), { now, days: 1, maxTotalBytes: 1 })).toMatchObject({
        removedFiles: [],
      });
    });

    it("runs on disk_low with the settings, and a manual run's arguments override them", async () => {
      const settings: LoopSettings = {
        maxRssBytes: 1000 * mib,
        minAvailableBytes: 0,
        minFreeDiskBytes: 1024 * mib,
        logRetentionDays: 14,
        logMaxTotalBytes: 500 * mib,
        factRetentionDays: 365,
        idleMs: 300_000,
        suggestionsPerHour: 2,
      };
      const store = JobStore.open({ file: path.join(dir, "loop.db") });
      try {
        let free = 1024 * mib;
        const ports: LoopPorts = {
          store,
          readings: {
            rssBytes: () => 0,
            availableMemoryBytes: () => 0,
            freeDiskBytes: () => Promise.resolve(free),
          },
          logDir,
          stateDir: dir,
        };
        const schedules = Object.entries(defaultActionSchedules).map(([action, timing]) => ({
          action,
          ...timing,
          schedule: undefined,
          args: {},
        }));
        const scheduler = new Scheduler({
          store,
          clock: new ManualClock(now),
          actions: createBuiltinActions(ports, settings),
          schedules,
          concurrency: 1,
        });
        logFile("sarai.1.log", 100, 20);
        logFile("sarai.2.log", 100, 10);
        logFile("sarai.3.log", 100, 0);

        // Exactly the minimum free is fine: no disk_low, no retention run.
        scheduler.enqueue("disk_check");
        await scheduler.settle();
        expect(store.jobs({ action: "log_retention" })).toHaveLength(0);

        free -= 1;
        scheduler.enqueue("disk_check");
        await scheduler.settle();
        const [retention] = store.jobs({ action: "log_retention" });
        expect(retention).toMatchObject({ trigger: "event:disk_low", status: "succeeded" });
        expect(left()).toEqual(["sarai.2.log", "sarai.3.log"]);

        const manual = scheduler.enqueue("log_retention", { days: 5 });
        await scheduler.settle();
        expect(store.get(manual.id)?.result).toMatchObject({
          removedFiles: ["sarai.2.log"],
          removedBytes: 100,
        });
        expect(() => scheduler.enqueue("log_retention", { days: 0 })).toThrow(/days/);
      } finally {
        store.close();
      }
    });
  });
});
