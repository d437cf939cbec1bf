import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EntityStore, type Fact } from "../../memory/index.js";
import { defaultActionSchedules } from "../defaults.js";
import { createEntityMemoryPort } from "../entity-memory-port.js";
import { JobStore } from "../job-store.js";
import type { LoopPorts, LoopSettings, Suggester } from "../ports.js";
import { ManualClock, Scheduler, type LoopEvent } from "../scheduler.js";
import { cleanSuggestion, createBuiltinActions, maxSuggestionChars } from "./index.js";

const minute = 60_000;
const idleMs = 5 * minute;
// Tuesday 24 November 2026, 10:00 local time.
const start = new Date(2026, 10, 24, 10, 0, 0).getTime();

let dir: string;
let store: JobStore;
let memory: EntityStore;
let clock: ManualClock;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sarai-idle-"));
  store = JobStore.open({ file: path.join(dir, "loop.db") });
  clock = new ManualClock(start);
  memory = EntityStore.open({ file: path.join(dir, "memory.db"), now: () => clock.now() });
});

afterEach(() => {
  memory.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

interface SuggesterCall {
  userId: string;
  facts: readonly Fact[];
  now: number;
}

/** A suggester that answers with `reply` (or runs it) and records what it was asked. */
function fakeSuggester(reply: string | ((call: SuggesterCall) => string | Promise<string>)) {
  const calls: SuggesterCall[] = [];
  const suggester: Suggester = {
    async suggest(input) {
      calls.push(input);
      return typeof reply === "string" ? reply : reply(input);
    },
  };
  return { suggester, calls };
}

/** The built-in actions with idle_check on its real minutely cron and the event triggers; no other cron. */
function loop(
  suggester: Suggester | undefined,
  overrides: Partial<LoopSettings> = {},
  owner = "a",
  suggestionTimeoutMs?: number,
) {
  const settings: LoopSettings = {
    maxRssBytes: 2 ** 40,
    minAvailableBytes: 0,
    minFreeDiskBytes: 0,
    logRetentionDays: 14,
    logMaxTotalBytes: 2 ** 30,
    factRetentionDays: 365,
    idleMs,
    suggestionsPerHour: 2,
    ...overrides,
  };
  const ports: LoopPorts = {
    store,
    readings: {
      rssBytes: () => 0,
      availableMemoryBytes: () => 2 ** 40,
      freeDiskBytes: () => Promise.resolve(2 ** 40),
    },
    memory: createEntityMemoryPort(memory),
    suggester,
    logDir: path.join(dir, "logs"),
    stateDir: dir,
  };
  const schedules = Object.entries(defaultActionSchedules).map(([action, timing]) => ({
    action,
    ...timing,
    schedule: action === "idle_check" ? timing.schedule : undefined,
    ...(action === "idle_suggestion" && suggestionTimeoutMs !== undefined
      ? { timeoutMs: suggestionTimeoutMs, retries: 0 }
      : {}),
    args: {},
  }));
  const scheduler = new Scheduler({
    store,
    clock,
    actions: createBuiltinActions(ports, settings),
    schedules,
    concurrency: 2,
    owner,
  });
  const events: LoopEvent[] = [];
  scheduler.subscribe((event) => events.push(event));
  return { scheduler, events };
}

/** Moves the clock a minute at a time until `until`, letting every loop settle after each step. */
async function simulate(schedulers: Scheduler[], until: number) {
  for (const s of schedulers) await s.settle();
  while (clock.now() < until) {
    clock.advance(minute);
    for (const s of schedulers) await s.settle();
  }
}

function tell(userId: string, relation: string, object: string, when: string | null = null) {
  memory.remember({
    userId,
    subject: "usuario",
    relation,
    object,
    when,
    confidence: 0.9,
    source: "user_input",
  });
}

describe("proactive loop", () => {
  describe("idle_check", () => {
    it("emits user_idle once per idle spell, from the idle time on, however many loops check", async () => {
      const a = loop(undefined, {}, "a");
      const b = loop(undefined, {}, "b");
      store.touchUser("ana", start);
      await simulate([a.scheduler, b.scheduler], start + idleMs - minute);
      expect(store.jobs({ action: "idle_suggestion" })).toHaveLength(0);
      // Exactly the idle time after the turn counts as idle.
      await simulate([a.scheduler, b.scheduler], start + idleMs);
      await simulate([a.scheduler, b.scheduler], start + idleMs + 10 * minute);
      const jobs = store.jobs({ action: "idle_suggestion" });
      expect(jobs).toHaveLength(1);
      expect(jobs[0]?.args).toMatchObject({
        event: { name: "user_idle", payload: { userId: "ana", lastActiveAt: start } },
      });
    });

    it("leaves out users not seen for a day", async () => {
      const { scheduler } = loop(undefined);
      store.touchUser("gone", start - 25 * 60 * minute);
      await simulate([scheduler], start + 2 * minute);
      expect(store.jobs({ action: "idle_suggestion" })).toHaveLength(0);
    });
  });

  describe("idle_suggestion", () => {
    it("delivers one short suggestion built from an upcoming birthday, and announces it on the bus", async () => {
      tell("ana", "birthday", "27 de noviembre");
      tell("ana", "likes", "café");
      const { suggester, calls } = fakeSuggester("  ¿Preparo una lista para tu cumpleaños del viernes?\n");
      const { scheduler, events } = loop(suggester);
      store.touchUser("ana", start);
      await simulate([scheduler], start + idleMs + minute);

      expect(calls).toHaveLength(1);
      expect(calls[0]?.facts.map((f) => f.object)).toEqual(["27 de noviembre"]);
      const [notification] = store.notifications("ana");
      expect(notification).toMatchObject({
        userId: "ana",
        kind: "suggestion",
        text: "¿Preparo una lista para tu cumpleaños del viernes?",
        data: { factIds: [calls[0]?.facts[0]?.id] },
        createdAt: start + idleMs,
      });
      expect(events.filter((e) => e.name === "notification").map((e) => e.payload)).toEqual([notification]);
      // One idle spell, one suggestion: later minutes add nothing.
      await simulate([scheduler], start + 30 * minute);
      expect(store.notifications("ana")).toHaveLength(1);
    });

    it("records 'nothing actionable' and delivers nothing when no fact is dated and near", async () => {
      tell("ana", "likes", "café");
      tell("ana", "birthday", "3 de mayo");
      const { suggester, calls } = fakeSuggester("no debería llegar");
      const { scheduler } = loop(suggester);
      store.touchUser("ana", start);
      await simulate([scheduler], start + idleMs + minute);
      expect(calls).toHaveLength(0);
      expect(store.notifications("ana")).toHaveLength(0);
      expect(store.jobs({ action: "idle_suggestion" })[0]).toMatchObject({
        status: "succeeded",
        result: { delivered: false, reason: "nothing actionable" },
      });
    });

    it("gives nothing to a user who takes a turn while the suggestion is being written", async () => {
      tell("ana", "appointment", "dentista", "mañana a las 10");
      const { suggester, calls } = fakeSuggester(() => {
        // The user writes again after the idle event, before delivery.
        store.touchUser("ana", clock.now());
        return "Mañana tienes el dentista a las 10.";
      });
      const { scheduler, events } = loop(suggester);
      store.touchUser("ana", start);
      await simulate([scheduler], start + idleMs);
      expect(calls).toHaveLength(1);
      expect(store.notifications("ana")).toHaveLength(0);
      expect(events.some((e) => e.name === "notification")).toBe(false);
      expect(store.jobs({ action: "idle_suggestion" })[0]?.result).toMatchObject({
        delivered: false,
        reason: "the user is active",
      });
    });

    it("does not even ask the model when the user was active between the idle event and the run", async () => {
      tell("ana", "appointment", "dentista", "mañana");
      const { suggester, calls } = fakeSuggester("Mañana: dentista.");
      const { scheduler } = loop(suggester);
      store.touchUser("ana", start);
      clock.set(start + idleMs);
      scheduler.emit("user_idle", { userId: "ana", lastActiveAt: start }, { dedupeKey: `ana:${start}` });
      store.touchUser("ana", start + idleMs);
      await scheduler.settle();
      expect(calls).toHaveLength(0);
      expect(store.notifications("ana")).toHaveLength(0);
    });

    it("delivers at most suggestionsPerHour an hour: M+1 idle spells in an hour give M", async () => {
      tell("ana", "appointment", "dentista", "mañana a las 10");
      const { suggester, calls } = fakeSuggester("Recuerda: mañana a las 10, dentista.");
      const { scheduler } = loop(suggester, { suggestionsPerHour: 2 });
      // Three idle spells within the hour: a turn, then quiet for the idle time, three times.
      for (let spell = 0; spell < 3; spell++) {
        store.touchUser("ana", clock.now());
        await simulate([scheduler], clock.now() + idleMs + minute);
      }
      expect(clock.now() - start).toBeLessThan(60 * minute);
      expect(calls).toHaveLength(3);
      expect(store.notifications("ana")).toHaveLength(2);
      const results = store
        .jobs({ action: "idle_suggestion" })
        .map((job) => job.result as { reason?: string });
      expect(results.filter((r) => r.reason?.includes("in the last hour") === true)).toHaveLength(1);
      // An hour after the first, the cap has room again.
      clock.set(start + 61 * minute);
      store.touchUser("ana", clock.now());
      await simulate([scheduler], clock.now() + idleMs + minute);
      expect(store.notifications("ana")).toHaveLength(3);
    });

    it("records a suggester that throws as a failed run, and the loop goes on", async () => {
      tell("ana", "appointment", "dentista", "mañana");
      tell("bob", "appointment", "médico", "mañana");
      const { suggester } = fakeSuggester(({ userId }) => {
        if (userId === "ana") throw new Error("model crashed");
        return "Mañana tienes médico.";
      });
      const { scheduler } = loop(suggester);
      store.touchUser("ana", start);
      await simulate([scheduler], start + idleMs + 2 * minute);
      store.touchUser("bob", clock.now());
      await simulate([scheduler], clock.now() + idleMs + minute);

      const failed = store.runs({ action: "idle_suggestion" }).filter((run) => run.outcome === "failed");
      // The first attempt and its one retry.
      expect(failed).toHaveLength(2);
      expect(failed[0]?.error).toMatch(/model crashed/);
      expect(store.notifications("ana")).toHaveLength(0);
      expect(store.notifications("bob").map((n) => n.text)).toEqual(["Mañana tienes médico."]);
    });

    it("delivers nothing late when the model outlasts the run's timeout", async () => {
      tell("ana", "appointment", "dentista", "mañana");
      const { suggester } = fakeSuggester(
        () => new Promise<string>((resolve) => setTimeout(() => resolve("Mañana: dentista."), 300)),
      );
      const { scheduler } = loop(suggester, {}, "a", 50);
      store.touchUser("ana", start);
      await simulate([scheduler], start + idleMs);
      // The scheduler recorded the timeout; let the model finish anyway.
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(store.runs({ action: "idle_suggestion" })[0]?.outcome).toBe("timeout");
      expect(store.notifications("ana")).toHaveLength(0);
    });

    it("asks once more when the first answer is empty, and delivers the second", async () => {
      tell("ana", "appointment", "dentista", "mañana");
      const { suggester, calls } = fakeSuggester(() => (calls.length === 1 ? "" : "Mañana tienes dentista."));
      const { scheduler } = loop(suggester);
      store.touchUser("ana", start);
      await simulate([scheduler], start + idleMs);
      expect(calls).toHaveLength(2);
      expect(store.notifications("ana").map((n) => n.text)).toEqual(["Mañana tienes dentista."]);
    });

    it("drops a suggestion that is empty twice", async () => {
      tell("ana", "appointment", "dentista", "mañana");
      const { suggester, calls } = fakeSuggester('  ""  ');
      const { scheduler } = loop(suggester);
      store.touchUser("ana", start);
      await simulate([scheduler], start + idleMs);
      expect(calls).toHaveLength(2);
      expect(store.notifications("ana")).toHaveLength(0);
      expect(store.jobs({ action: "idle_suggestion" })[0]?.result).toMatchObject({
        reason: "the model wrote nothing",
      });
    });

    it("runs manually for a named idle user, and refuses without one", async () => {
      tell("ana", "appointment", "dentista", "mañana");
      const { suggester } = fakeSuggester("Mañana: dentista.");
      const { scheduler } = loop(suggester);
      // Last seen two days ago: too long for idle_check, still idle for a manual run.
      store.touchUser("ana", start - 48 * 60 * minute);
      const job = scheduler.enqueue("idle_suggestion", { userId: "ana" });
      await scheduler.settle();
      expect(store.get(job.id)).toMatchObject({ status: "succeeded", result: { delivered: true } });
      expect(store.notifications("ana")).toHaveLength(1);
      // Someone who just wrote is not idle, manual run or not.
      store.touchUser("bob", clock.now());
      const busy = scheduler.enqueue("idle_suggestion", { userId: "bob" });
      await scheduler.settle();
      expect(store.get(busy.id)?.result).toMatchObject({
        delivered: false,
        reason: "the user is not idle yet",
      });
      const anonymous = scheduler.enqueue("idle_suggestion");
      await simulate([scheduler], start + 2 * minute);
      expect(store.runs({ action: "idle_suggestion" }).find((r) => r.jobId === anonymous.id)?.error).toMatch(
        /needs args.userId/,
      );
    });
  });

  describe("cleanSuggestion", () => {
    it("trims, unquotes and caps at a word with an ellipsis", () => {
      expect(cleanSuggestion('  "Llama a tu madre."  ')).toBe("Llama a tu madre.");
      expect(cleanSuggestion("Sugerencia: prepara   la\nmaleta")).toBe("prepara la maleta");
      const long = cleanSuggestion("palabra ".repeat(100));
      expect(long.length).toBeLessThanOrEqual(maxSuggestionChars);
      expect(long).toMatch(/palabra…$/);
      expect(cleanSuggestion(" \n ")).toBe("");
    });
  });
});
