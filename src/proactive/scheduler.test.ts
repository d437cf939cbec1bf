import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { JobStore } from "./job-store.js";
import {
  ManualClock,
  Scheduler,
  parseCron,
  type ActionDefinition,
  type ActionSchedule,
} from "./scheduler.js";

const minute = 60_000;
const hour = 60 * minute;
const dayStart = Date.UTC(2026, 10, 23, 0, 0, 0); // a Monday, midnight UTC

let dir: string;
let store: JobStore;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sarai-loop-"));
  store = JobStore.open({ file: path.join(dir, "loop.db") });
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** An action that records when it ran (clock time) and can be told to fail or hang. */
function recorder(name: string, behaviour: { failTimes?: number; hang?: boolean } = {}) {
  const ran: number[] = [];
  let failures = 0;
  const action: ActionDefinition<Record<string, unknown>> = {
    name,
    description: `records runs of ${name}`,
    args: z.record(z.string(), z.unknown()),
    async run(context) {
      ran.push(context.now());
      if (behaviour.hang === true) return new Promise(() => {});
      if (failures < (behaviour.failTimes ?? 0)) {
        failures++;
        throw new Error(`planned failure ${failures}`);
      }
      return { ok: true };
    },
  };
  return { action, ran };
}

function schedule(action: string, overrides: Partial<ActionSchedule> = {}): ActionSchedule {
  return {
    action,
    priority: 5,
    timeoutMs: 5_000,
    retries: 0,
    backoffMs: minute,
    catchUp: "skip",
    args: {},
    ...overrides,
  };
}

async function simulate(scheduler: Scheduler, clock: ManualClock, until: number, step = 30_000) {
  while (clock.now() < until) {
    clock.advance(step);
    await scheduler.settle();
  }
}

describe("proactive loop", () => {
  describe("scheduler", () => {
    it("runs cron actions once per slot over a simulated day", async () => {
      const clock = new ManualClock(dayStart);
      const hourly = recorder("hourly");
      const every5 = recorder("every5");
      const scheduler = new Scheduler({
        store,
        clock,
        concurrency: 2,
        actions: [hourly.action, every5.action],
        schedules: [
          schedule("hourly", { schedule: "@hourly" }),
          schedule("every5", { schedule: "*/5 * * * *" }),
        ],
      });
      await scheduler.settle();
      await simulate(scheduler, clock, dayStart + 24 * hour);
      // The first slot (midnight) is due at start; then every hour up to and including the next midnight.
      expect(hourly.ran).toHaveLength(25);
      expect(hourly.ran.every((t) => (t - dayStart) % hour < 30_000)).toBe(true);
      expect(every5.ran).toHaveLength(24 * 12 + 1);
      expect(new Set(store.jobs({ action: "every5", limit: 1000 }).map((j) => j.slot)).size).toBe(289);
    });

    it("fires @daily at each local midnight and @weekly on Sunday midnight over a simulated week", async () => {
      // Croner reads cron in the machine's time zone: the expected slots are local midnights.
      const monday = new Date(2026, 10, 23).getTime();
      const clock = new ManualClock(monday);
      const daily = recorder("daily");
      const weekly = recorder("weekly");
      const scheduler = new Scheduler({
        store,
        clock,
        concurrency: 2,
        actions: [daily.action, weekly.action],
        schedules: [schedule("daily", { schedule: "@daily" }), schedule("weekly", { schedule: "@weekly" })],
      });
      const step = 20 * minute;
      await scheduler.settle();
      await simulate(scheduler, clock, new Date(2026, 10, 30, 1).getTime(), step);
      const midnights = Array.from({ length: 8 }, (_, day) => new Date(2026, 10, 23 + day).getTime());
      const slots = (action: string) =>
        store
          .jobs({ action, limit: 100 })
          .filter((job) => job.status === "succeeded")
          .map((job) => job.executeAt)
          .sort((a, b) => a - b);
      // Monday (the start, on a slot) through the next Monday; the Sunday before the start was never due.
      expect(slots("daily")).toEqual(midnights);
      expect(slots("weekly")).toEqual([new Date(2026, 10, 29).getTime()]);
      expect(new Date(slots("weekly")[0] ?? 0).getDay()).toBe(0);
      // Each ran at the first tick at or after its slot.
      for (const [ran, slot] of [
        [daily.ran, midnights],
        [weekly.ran, slots("weekly")],
      ] as const) {
        expect(ran).toHaveLength(slot.length);
        ran.forEach((t, i) => {
          expect(t).toBeGreaterThanOrEqual(slot[i] ?? 0);
          expect(t - (slot[i] ?? 0)).toBeLessThan(step);
        });
      }
    });

    it("never runs more than `concurrency` actions at once, and starts waiting ones as runs finish", async () => {
      const clock = new ManualClock(dayStart);
      let running = 0;
      let peak = 0;
      let finished = 0;
      let hold = true;
      const gates: (() => void)[] = [];
      const work: ActionDefinition<Record<string, unknown>> = {
        name: "work",
        description: "holds its slot until released",
        args: z.record(z.string(), z.unknown()),
        async run() {
          running++;
          peak = Math.max(peak, running);
          if (hold) await new Promise<void>((resolve) => gates.push(resolve));
          running--;
          finished++;
          return null;
        },
      };
      const scheduler = new Scheduler({
        store,
        clock,
        concurrency: 3,
        actions: [work],
        schedules: [schedule("work", { on: ["go"] })],
      });
      const flush = () => new Promise((resolve) => setImmediate(resolve));
      for (let i = 0; i < 8; i++) scheduler.enqueue("work");

      expect(await scheduler.tick()).toBe(3);
      await flush();
      expect(running).toBe(3);
      // Full: another pass starts nothing, and the database holds three leases.
      expect(await scheduler.tick()).toBe(0);
      expect(store.jobs({ action: "work", status: "running" })).toHaveLength(3);
      expect(store.jobs({ action: "work", status: "pending" })).toHaveLength(5);

      // One finishes: exactly one more starts.
      gates.shift()?.();
      await flush();
      expect(finished).toBe(1);
      expect(await scheduler.tick()).toBe(1);
      await flush();
      expect(running).toBe(3);

      hold = false;
      for (const release of gates.splice(0)) release();
      await scheduler.settle();
      expect(finished).toBe(8);
      expect(peak).toBe(3);
      expect(store.jobs({ action: "work", status: "succeeded" })).toHaveLength(8);
    });

    it("runs higher priority first when slots are scarce", async () => {
      const clock = new ManualClock(dayStart);
      const order: string[] = [];
      const make = (name: string): ActionDefinition<Record<string, unknown>> => ({
        name,
        description: name,
        args: z.record(z.string(), z.unknown()),
        run: () => {
          order.push(name);
          return Promise.resolve(null);
        },
      });
      const scheduler = new Scheduler({
        store,
        clock,
        concurrency: 1,
        actions: [make("low"), make("high"), make("mid")],
        schedules: [
          schedule("low", { on: ["tick"], priority: 1 }),
          schedule("high", { on: ["tick"], priority: 10 }),
          schedule("mid", { on: ["tick"], priority: 5 }),
        ],
      });
      scheduler.emit("tick");
      await scheduler.settle();
      expect(order).toEqual(["high", "mid", "low"]);
    });

    it("retries a failing action with doubling backoff and records every attempt", async () => {
      const clock = new ManualClock(dayStart);
      const flaky = recorder("flaky", { failTimes: 2 });
      const scheduler = new Scheduler({
        store,
        clock,
        concurrency: 1,
        actions: [flaky.action],
        schedules: [schedule("flaky", { on: ["go"], retries: 3, backoffMs: minute })],
      });
      scheduler.emit("go");
      await scheduler.settle();
      await simulate(scheduler, clock, dayStart + 10 * minute, 15_000);
      expect(flaky.ran.map((t) => t - dayStart)).toEqual([0, minute, 3 * minute]);
      const runs = store.runs({ action: "flaky" }).reverse();
      expect(runs.map((r) => r.outcome)).toEqual(["failed", "failed", "succeeded"]);
      expect(runs[0]?.error).toBe("planned failure 1");
      expect(store.jobs({ action: "flaky" })[0]?.status).toBe("succeeded");
    });

    it("times out an action that hangs, records it, and keeps running the others", async () => {
      const clock = new ManualClock(dayStart);
      const stuck = recorder("stuck", { hang: true });
      const fine = recorder("fine");
      const scheduler = new Scheduler({
        store,
        clock,
        concurrency: 1,
        actions: [stuck.action, fine.action],
        schedules: [
          schedule("stuck", { on: ["go"], timeoutMs: 50, priority: 9 }),
          schedule("fine", { on: ["go"], priority: 1 }),
        ],
      });
      scheduler.emit("go");
      await scheduler.settle();
      expect(fine.ran).toHaveLength(1);
      const [run] = store.runs({ action: "stuck" });
      expect(run?.outcome).toBe("timeout");
      expect(run?.error).toBe("timed out after 50 ms");
      expect(store.jobs({ action: "stuck" })[0]?.status).toBe("failed");
    });

    it.each([
      ["skip", 0],
      ["latest", 1],
      ["all", 5],
    ] as const)(
      "after a restart, catch-up policy %s runs %i of the 5 missed hourly slots",
      async (policy, expected) => {
        const clock = new ManualClock(dayStart + 30 * minute);
        const first = recorder("job");
        const before = new Scheduler({
          store,
          clock,
          concurrency: 1,
          actions: [first.action],
          schedules: [schedule("job", { schedule: "@hourly", catchUp: policy })],
        });
        await simulate(before, clock, dayStart + 2 * hour);
        expect(first.ran).toHaveLength(2); // 01:00 and 02:00
        await before.stop();

        // Down from 02:00 to 07:30: the slots 03:00–07:00 are missed.
        clock.set(dayStart + 7 * hour + 30 * minute);
        const second = recorder("job");
        const after = new Scheduler({
          store,
          clock,
          concurrency: 1,
          actions: [second.action],
          schedules: [schedule("job", { schedule: "@hourly", catchUp: policy })],
        });
        await after.settle();
        expect(second.ran).toHaveLength(expected);
        await simulate(after, clock, dayStart + 8 * hour);
        expect(second.ran).toHaveLength(expected + 1); // 08:00 as usual
      },
    );

    it("refuses an unknown action, bad arguments and bad cron with their config path", () => {
      const { action } = recorder("known");
      const strict: ActionDefinition<{ days: number }> = {
        name: "strict",
        description: "needs days",
        args: z.object({ days: z.int().min(1) }).strict(),
        run: () => Promise.resolve(null),
      };
      const make = (schedules: ActionSchedule[]) =>
        new Scheduler({ store, concurrency: 1, actions: [action, strict], schedules });
      expect(() => make([schedule("nope")])).toThrow("proactive.actions.nope: no such action");
      expect(() => make([schedule("strict", { args: { days: 0 } })])).toThrow(
        /proactive\.actions\.strict\.args\.days: /,
      );
      expect(() => parseCron("every hour")).toThrow(/"every hour" is not a cron expression/);
      expect(() => parseCron("61 * * * *")).toThrow(/minute/);
    });
  });
});
