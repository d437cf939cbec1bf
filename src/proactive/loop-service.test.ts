import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig, type ConfigPatch } from "../config/index.js";
import { isAppError } from "../shared/index.js";
import { LoopService } from "./loop-service.js";
import { ManualClock } from "./scheduler.js";

const mib = 2 ** 20;
// A Monday, 10:00 local: on a minute slot.
const start = new Date(2026, 10, 23, 10).getTime();

let dir: string;
const services: LoopService[] = [];

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sarai-loop-service-"));
});

afterEach(async () => {
  for (const service of services.splice(0)) await service.close();
  rmSync(dir, { recursive: true, force: true });
});

function open(
  actions: NonNullable<NonNullable<ConfigPatch["proactive"]>["actions"]>,
  clock = new ManualClock(start),
) {
  const { config } = loadConfig({
    cwd: dir,
    env: { HOME: dir, SARAI_PATHS_DATA_DIR: dir },
    overrides: { proactive: { actions } },
  });
  const service = LoopService.open({
    config,
    clock,
    ports: {
      readings: {
        rssBytes: () => 100 * mib,
        availableMemoryBytes: () => 8192 * mib,
        // 2 MiB free: low under the default 1024 MiB minimum, fine under a configured 1 MiB.
        freeDiskBytes: () => Promise.resolve(2 * mib),
      },
      logDir: path.join(dir, "logs"),
      stateDir: dir,
    },
  });
  services.push(service);
  return service;
}

function openError(actions: Parameters<typeof open>[0]): { code: string; message: string } {
  try {
    open(actions);
  } catch (error) {
    if (isAppError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error("expected the loop to refuse the config");
}

describe("proactive loop", () => {
  describe("configured args", () => {
    it("refuses args the action does not take with CONFIG_INVALID naming the path, disabled actions too", () => {
      expect(openError({ log_retention: { args: { days: 0 } } })).toMatchObject({
        code: "CONFIG_INVALID",
        message: expect.stringMatching(/^proactive\.actions\.log_retention\.args\.days: /) as unknown,
      });
      expect(openError({ disk_check: { args: { minFree: 1 } } }).message).toMatch(
        /^proactive\.actions\.disk_check\.args: .*minFree/,
      );
      expect(openError({ prune: { enabled: false, args: { unloadModels: "yes" } } }).message).toMatch(
        /^proactive\.actions\.prune\.args\.unloadModels: /,
      );
    });

    it("gives scheduled, event-driven and manual runs the configured args", async () => {
      const clock = new ManualClock(start);
      const service = open(
        { disk_check: { schedule: "* * * * *", on: ["backup_done"], args: { minFreeMb: 1 } } },
        clock,
      );
      await service.scheduler.settle();
      const [scheduled] = service.store.jobs({ action: "disk_check" });
      expect(scheduled).toMatchObject({ trigger: "cron:* * * * *", status: "succeeded" });
      expect(scheduled?.result).toMatchObject({ low: false, minFreeBytes: mib });

      const [evented] = service.emit("backup_done", { file: "a.tar" });
      const manual = service.run("disk_check");
      await service.scheduler.settle();
      for (const job of [evented, manual]) {
        expect(service.store.get(job?.id ?? 0)?.result).toMatchObject({ low: false, minFreeBytes: mib });
      }
      expect(service.store.get(evented?.id ?? 0)?.args).toMatchObject({
        event: { name: "backup_done", payload: { file: "a.tar" } },
      });
      // A manual run's own args replace the configured ones.
      const own = service.run("disk_check", { minFreeMb: 4 });
      await service.scheduler.settle();
      expect(service.store.get(own.id)?.result).toMatchObject({ low: true, minFreeBytes: 4 * mib });
    });
  });

  describe("recorded runs", () => {
    it("hands each run recorded in the database to the metrics once, from the ones after it opened", async () => {
      const first = open({});
      first.run("disk_check");
      await first.scheduler.settle();
      const before = new Set(first.store.runs({ limit: 1000 }).map((run) => run.id));
      expect(before.size).toBeGreaterThan(0);
      // Another process on the same database (a `sarai loop`) opened after those runs.
      const server = open({});
      expect(server.takeRecordedRuns()).toEqual([]);
      const manual = [first.run("disk_check"), first.run("ram_check")];
      await first.scheduler.settle();
      const taken = server.takeRecordedRuns();
      const after = first.store
        .runs({ limit: 1000 })
        .filter((run) => !before.has(run.id))
        .reverse();
      expect(taken.map((run) => run.id)).toEqual(after.map((run) => run.id));
      const manualRuns = taken.filter((run) =>
        after.some((a) => a.id === run.id && manual.some((j) => j.id === a.jobId)),
      );
      // In the order they were recorded: ram_check (priority 8) ran before disk_check (7).
      expect(manualRuns.map((run) => [run.action, run.outcome])).toEqual([
        ["ram_check", "succeeded"],
        ["disk_check", "succeeded"],
      ]);
      expect(server.takeRecordedRuns()).toEqual([]);
    });
  });
});
