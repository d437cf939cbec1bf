/**
 * The proactive loop over a simulated day with realistic activity, through the real app (`createApp`): the
 * built-in actions on their default schedules, real turns through the turn pipeline on the generated tiny
 * model (so facts land in memory the way they do in use), a real log folder, and scripted machine readings
 * (RAM spikes, a low-disk hour). The clock is a `ManualClock` stepped every 30 simulated seconds.
 *
 * Reports actions per hour (all runs, and runs that did work), suggestions delivered, and suggestions that
 * reached an active user — against a baseline measured on the same activity trace: the seeds' sketch, an
 * hourly timer that suggests to everyone with a dated fact without looking at activity.
 *
 * `npm run bench -- proactive [--users 12] [--seed 7]`
 */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { createApp } from "../src/app.js";
import { loadConfig } from "../src/config/index.js";
import { ensureSynthesizedModel } from "../src/inference/index.js";
import { createRandom } from "../src/shared/index.js";
import { ManualClock, type SystemReadings } from "../src/proactive/index.js";
import { createSilentLogger } from "../src/shared/index.js";
import { formatTable, parseIntegerOption } from "./_stats.js";

const usage = "usage: npm run bench -- proactive [--users 12] [--seed 7]";
const here = path.dirname(fileURLToPath(import.meta.url));
const second = 1000;
const minute = 60 * second;
const hour = 60 * minute;
const mib = 2 ** 20;
const dayStart = Date.UTC(2026, 10, 23); // a Monday, 00:00 UTC
const idleMinutes = 5;

const datedFacts = [
  "Mi cumpleaños es el 3 de mayo.",
  "Tengo cita con el dentista el viernes a las 10.",
  "My birthday is on June 12.",
  "I have a dentist appointment on Friday at 10.",
  "Recuérdame llamar a mi madre el domingo.",
  "My passport renewal deadline is next Monday.",
];
const smallTalk = [
  "¿Qué tal el día?",
  "Tell me a short joke.",
  "¿Cómo se dice gracias en francés?",
  "What is the capital of Peru?",
  "Dame una idea para cenar.",
  "How do I boil an egg?",
];

interface Turn {
  at: number;
  user: string;
  text: string;
}

/** 2–4 sessions per user between 08:00 and 23:00, a turn every 1–4 minutes, 3–15 turns each. */
function activityTrace(users: number, seed: number): Turn[] {
  const next = createRandom(seed);
  const turns: Turn[] = [];
  for (let u = 0; u < users; u++) {
    const user = `user${u}`;
    const sessions = 2 + Math.floor(next() * 3);
    let told = false;
    for (let s = 0; s < sessions; s++) {
      let at = dayStart + 8 * hour + Math.floor(next() * 15 * hour);
      const count = 3 + Math.floor(next() * 13);
      for (let i = 0; i < count; i++) {
        const tellFact: boolean = !told && u % 2 === 0;
        told ||= tellFact;
        const pool = tellFact ? datedFacts : smallTalk;
        turns.push({ at, user, text: pool[Math.floor(next() * pool.length)] as string });
        at += minute + Math.floor(next() * 3 * minute);
      }
    }
  }
  return turns.sort((a, b) => a.at - b.at);
}

/** RAM over the limit three times a day, disk low for 20 minutes in the evening. */
function scriptedReadings(clock: ManualClock, maxRssMb: number): SystemReadings {
  const within = (from: number, to: number) => {
    const t = clock.now() - dayStart;
    return t >= from && t < to;
  };
  return {
    rssBytes: () =>
      within(10 * hour, 10 * hour + 12 * minute) ||
      within(15 * hour + 30 * minute, 15 * hour + 40 * minute) ||
      within(21 * hour, 21 * hour + 6 * minute)
        ? (maxRssMb + 512) * mib
        : (maxRssMb / 2) * mib,
    availableMemoryBytes: () => 8 * 1024 * mib,
    freeDiskBytes: () =>
      Promise.resolve(within(18 * hour, 18 * hour + 20 * minute) ? 600 * mib : 20 * 1024 * mib),
  };
}

/** Forty rotated log files of 2 MiB, 0–39 days old. */
function seedLogs(logDir: string): void {
  mkdirSync(logDir, { recursive: true });
  for (let i = 0; i < 40; i++) {
    const file = path.join(logDir, `sarai.${i + 1}.log`);
    writeFileSync(file, Buffer.alloc(2 * mib, 0x61));
    const when = new Date(dayStart - i * 24 * hour - hour);
    utimesSync(file, when, when);
  }
}

export default async function proactiveBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { users: { type: "string", default: "12" }, seed: { type: "string", default: "7" } },
  });
  const users = parseIntegerOption("users", values.users, 1, usage);
  const seed = parseIntegerOption("seed", values.seed, 0, usage);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "sarai-bench-loop-"));
  const cacheDir = path.resolve(here, "..", ".cache", "bench-models");
  const model = await ensureSynthesizedModel({ seed: 1, cacheDir });
  const maxRssMb = 4096;
  const { config } = loadConfig({
    env: { HOME: dataDir, SARAI_PATHS_DATA_DIR: dataDir },
    cwd: dataDir,
    overrides: {
      models: { main: { source: model } },
      inference: { threads: 1, sequences: 1, contextSize: 1024 },
      log: { file: false },
      proactive: { idleMinutes, suggestionsPerHour: 2, maxRssMb, minFreeDiskMb: 1024, logMaxTotalMb: 50 },
    },
  });
  seedLogs(config.paths.logDir);
  const clock = new ManualClock(dayStart);
  const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  const app = await createApp({
    config,
    logger: createSilentLogger(),
    llama,
    loop: { clock, readings: scriptedReadings(clock, maxRssMb) },
  });
  const loop = app.loop;
  if (loop === undefined) throw new Error("the proactive loop is disabled in this config");

  const trace = activityTrace(users, seed);
  const signal = new AbortController().signal;
  const started = performance.now();
  let nextTurn = 0;
  const step = 30 * second;
  for (let t = dayStart; t <= dayStart + 24 * hour; t += step) {
    clock.set(t);
    // Turns first: a user who speaks in this step is active before the loop looks.
    while (nextTurn < trace.length && (trace[nextTurn] as Turn).at <= t) {
      const turn = trace[nextTurn] as Turn;
      clock.set(turn.at);
      await app.turns.run(
        { userId: turn.user, messages: [{ role: "user", content: turn.text }], sampling: { maxTokens: 8 } },
        signal,
      );
      nextTurn++;
    }
    clock.set(t);
    await loop.scheduler.settle();
  }
  await app.turns.drain();
  const wallSeconds = (performance.now() - started) / 1000;

  // What ran, hour by hour.
  const runs = loop.store.runs({ limit: 1_000_000 }).filter((r) => r.startedAt < dayStart + 24 * hour);
  const notifications = Array.from({ length: users }, (_, u) =>
    loop.notifications(`user${u}`, 0, 10_000),
  ).flat();
  const byAction = new Map<string, number>();
  for (const run of runs) byAction.set(run.action, (byAction.get(run.action) ?? 0) + 1);
  // Runs that changed something: pruning, log retention, memory maintenance, and delivered suggestions (an
  // idle_suggestion run for a user with nothing actionable changes nothing).
  const workActions = new Set(["prune", "log_retention", "memory_maintenance"]);
  const hourly = Array.from({ length: 24 }, (_, h) => {
    const inHour = runs.filter((r) => Math.floor((r.startedAt - dayStart) / hour) === h);
    const suggestions = notifications.filter((n) => Math.floor((n.createdAt - dayStart) / hour) === h).length;
    return {
      all: inHour.length,
      work: inHour.filter((r) => workActions.has(r.action) && r.outcome === "succeeded").length + suggestions,
      suggestions,
    };
  });

  // A suggestion is spurious when its user had a turn within the idle time before it.
  const activeAt = (user: string, at: number) =>
    trace.some((turn) => turn.user === user && turn.at <= at && turn.at > at - idleMinutes * minute);
  const spurious = notifications.filter((n) => activeAt(n.userId, n.createdAt)).length;
  // Baseline: the seeds' hourly timer, to everyone who told a dated fact, activity unchecked.
  const factUsers = [...new Set(trace.filter((t) => datedFacts.includes(t.text)).map((t) => t.user))];
  let naive = 0;
  let naiveSpurious = 0;
  for (let h = 1; h <= 24; h++) {
    const at = dayStart + h * hour;
    for (const user of factUsers) {
      if (!trace.some((turn) => turn.user === user && turn.at <= at)) continue;
      naive++;
      if (activeAt(user, at)) naiveSpurious++;
    }
  }
  const perUserHour = new Map<string, number>();
  for (const n of notifications) {
    const key = `${n.userId}:${Math.floor((n.createdAt - dayStart) / hour)}`;
    perUserHour.set(key, (perUserHour.get(key) ?? 0) + 1);
  }

  console.log(
    `simulated day: ${users} users, ${trace.length} turns, ${factUsers.length} told a dated fact; ` +
      `${wallSeconds.toFixed(1)} s of wall time`,
  );
  console.log(
    formatTable(
      ["hour", "runs", "runs that did work", "suggestions"],
      hourly.map((h, i) => [
        String(i).padStart(2, "0"),
        String(h.all),
        String(h.work),
        String(h.suggestions),
      ]),
    ),
  );
  const totalWork = hourly.reduce((sum, h) => sum + h.work, 0);
  console.log(
    `\nruns by action: ${[...byAction].map(([a, n]) => `${a} ${n}`).join(", ")}` +
      `\nproactive actions per hour: ${(runs.length / 24).toFixed(1)} (all, checks included), ` +
      `${(totalWork / 24).toFixed(1)} that changed something (prune, retention, maintenance, suggestion)` +
      `; failed or timed out: ${runs.filter((r) => r.outcome !== "succeeded").length}`,
  );
  console.log(
    formatTable(
      ["suggestions", "delivered", "to an active user", "most per user-hour"],
      [
        [
          "loop (activity-gated)",
          String(notifications.length),
          String(spurious),
          String(Math.max(0, ...perUserHour.values())),
        ],
        ["baseline: hourly timer", String(naive), String(naiveSpurious), "1"],
      ],
    ),
  );
  await app.dispose();
  await llama.dispose();
  rmSync(dataDir, { recursive: true, force: true });
}
