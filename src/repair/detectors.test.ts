import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/index.js";
import { diagnose, stillFaulty } from "./detectors.js";
import type { LogEntry, Observation } from "./types.js";

const thresholds = loadConfig({ env: {}, cwd: "/nonexistent" }).config.repair.thresholds;
const mib = 2 ** 20;

function healthy(overrides: Partial<Observation> = {}): Observation {
  return {
    at: 1_000_000,
    logs: [],
    ram: { rssBytes: 300 * mib, budgetBytes: 4096 * mib },
    queues: [{ role: "main", waiting: 0, maxQueue: 16 }],
    disk: { path: "/state", freeBytes: 10_000 * mib },
    databases: [{ name: "memory", file: "/state/sarai.db", status: "ok", detail: "quick_check ok" }],
    models: [{ role: "main", file: "/models/a.gguf", status: "ok", detail: "unchanged since start" }],
    imageCache: { lookups: 0, hits: 0 },
    speculative: { drafted: 0, accepted: 0 },
    loop: { alive: true, detail: "last heartbeat 1 s ago" },
    ...overrides,
  };
}

function errors(code: string, count: number, target?: string): LogEntry[] {
  return Array.from({ length: count }, (_, i) => ({
    time: 1_000_000 - i,
    level: 40,
    msg: "request failed",
    code,
    ...(target === undefined ? {} : { target }),
  }));
}

describe("repair detectors", () => {
  it("find nothing on a healthy server", () => {
    expect(diagnose(healthy(), thresholds)).toEqual([]);
  });

  it.each([
    ["ram_pressure", { ram: { rssBytes: 3900 * mib, budgetBytes: 4096 * mib } }, "server"],
    ["context_overflow", { logs: errors("CONTEXT_OVERFLOW", 3, "messages") }, "server"],
    ["queue_saturation", { logs: errors("QUEUE_FULL", 5) }, "server"],
    ["queue_saturation", { queues: [{ role: "main", waiting: 16, maxQueue: 16 }] }, "server"],
    [
      "repeated_timeouts",
      { logs: [...errors("REQUEST_TIMEOUT", 2), ...errors("MODEL_TIMEOUT", 1)] },
      "server",
    ],
    [
      "model_load_failure",
      {
        models: [
          {
            role: "main",
            file: "/models/a.gguf",
            status: "load_failed" as const,
            detail: "llama.cpp refused it",
          },
        ],
      },
      "main",
    ],
    ["model_load_failure", { logs: errors("MODEL_LOAD_FAILED", 2, "/models/a.gguf") }, "main"],
    [
      "corrupt_model",
      {
        models: [
          { role: "main", file: "/models/a.gguf", status: "corrupt" as const, detail: "sha256 differs" },
        ],
      },
      "main",
    ],
    ["disk_full", { disk: { path: "/state", freeBytes: 100 * mib } }, "/state"],
    ["sqlite_locked", { logs: errors("SQLITE_BUSY", 3) }, "memory"],
    [
      "sqlite_corrupt",
      {
        databases: [
          { name: "memory", file: "/s.db", status: "corrupt" as const, detail: "quick_check: page 3" },
        ],
      },
      "memory",
    ],
    ["image_cache_thrash", { imageCache: { lookups: 40, hits: 2 } }, "image cache"],
    ["low_speculative_acceptance", { speculative: { drafted: 200, accepted: 20 } }, "draft"],
    ["loop_down", { loop: { alive: false, detail: "last heartbeat 40 s ago" } }, "loop"],
  ] as const)("find %s from its evidence", (fault, overrides, target) => {
    const found = diagnose(healthy(overrides), thresholds);
    expect(found.map((d) => [d.fault, d.target])).toEqual([[fault, target]]);
    expect(Object.keys(found[0]!.evidence).length).toBeGreaterThan(0);
  });

  it("stay quiet under their thresholds", () => {
    const near = healthy({
      ram: { rssBytes: 3600 * mib, budgetBytes: 4096 * mib },
      logs: [...errors("CONTEXT_OVERFLOW", 2), ...errors("QUEUE_FULL", 2), ...errors("SQLITE_BUSY", 2)],
      disk: { path: "/state", freeBytes: 600 * mib },
      imageCache: { lookups: 19, hits: 0 },
      speculative: { drafted: 63, accepted: 0 },
    });
    expect(diagnose(near, thresholds)).toEqual([]);
  });

  it("do not judge an error by its message text, only by its code", () => {
    const logs: LogEntry[] = Array.from({ length: 5 }, () => ({
      time: 1,
      level: 50,
      msg: "CONTEXT_OVERFLOW QUEUE_FULL SQLITE_BUSY timeout",
    }));
    expect(diagnose(healthy({ logs }), thresholds)).toEqual([]);
  });

  it("report a corrupt model once, not also as a load failure", () => {
    const found = diagnose(
      healthy({
        models: [{ role: "main", file: "/models/a.gguf", status: "corrupt", detail: "truncated" }],
        logs: errors("MODEL_LOAD_FAILED", 3, "/models/a.gguf"),
      }),
      thresholds,
    );
    expect(found.map((d) => d.fault)).toEqual(["corrupt_model"]);
  });

  it("tell whether a fault is still there", () => {
    const full = healthy({ disk: { path: "/state", freeBytes: 1 } });
    expect(stillFaulty({ fault: "disk_full", target: "/state" }, full, thresholds)).toBe(true);
    expect(stillFaulty({ fault: "disk_full", target: "/state" }, healthy(), thresholds)).toBe(false);
  });
});
