import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createConfigStore, type ConfigStore, type ResolvedConfig } from "../config/index.js";
import type { AuditEventInput, AuditSink } from "../security/index.js";
import { createSilentLogger } from "../shared/index.js";
import { idleRepairActions as actions } from "../../test/repair-fixtures.js";
import { RepairHistory } from "./repair-history.js";
import { Repairer, diffConfig, type RepairConfigPort } from "./repairer.js";
import type { LogEntry, Observation, RepairRecord } from "./types.js";

let root: string;
let file: string;
let store: ConfigStore;
let history: RepairHistory;
let repairer: Repairer | undefined;

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), "sarai-repairer-"));
  file = path.join(root, "sarai.yaml");
});

afterEach(async () => {
  await repairer?.dispose();
  repairer = undefined;
  store.dispose();
  history.close();
  rmSync(root, { recursive: true, force: true });
});

const repairSettings = "repair:\n  verifyMs: 150\n  cooldownMs: 60000\n  windowMs: 60000\n";

function openStore(yaml: string): ConfigStore {
  writeFileSync(file, yaml + repairSettings);
  store = createConfigStore({
    file,
    cwd: root,
    env: { HOME: path.join(root, "home") },
    logger: createSilentLogger(),
  });
  history = RepairHistory.open(path.join(root, "repair", "repair.db"));
  return store;
}

function port(configStore: ConfigStore): RepairConfigPort {
  const result = (r: ReturnType<ConfigStore["apply"]>) =>
    r.ok ? ({ ok: true } as const) : ({ ok: false, message: r.error.message } as const);
  return {
    current: () => configStore.current,
    apply: (patch, persist) => result(configStore.apply(patch, { persist })),
    withdraw: (patch) => result(configStore.withdraw(patch)),
    subscribe: (listener) => configStore.subscribe(listener),
  };
}

/** A server whose requests overflow while the context is under 4096 tokens. */
function overflowingServer(config: () => ResolvedConfig) {
  const logs: LogEntry[] = [];
  const observe = (since: number): Promise<Observation> => {
    const now = Date.now();
    if (config().inference.contextSize < 4096)
      for (let i = 0; i < 3; i++)
        logs.push({ time: now, level: 40, msg: "request failed", code: "CONTEXT_OVERFLOW" });
    return Promise.resolve({
      at: now,
      logs: logs.filter((entry) => entry.time >= since),
      ram: { rssBytes: 1, budgetBytes: 2 ** 40 },
      queues: [],
      disk: { path: root, freeBytes: 2 ** 40 },
      databases: [],
      models: [],
    });
  };
  return observe;
}

function capture(): { sink: AuditSink; events: AuditEventInput[] } {
  const events: AuditEventInput[] = [];
  return { sink: { record: (event) => void events.push(event) }, events };
}

describe("repairer", () => {
  it("repairs with a level-1 config patch that clears the fault, and keeps it", async () => {
    const configStore = openStore("inference:\n  contextSize: 2048\n");
    const { sink, events } = capture();
    const notices: string[] = [];
    repairer = new Repairer({
      config: port(configStore),
      observe: overflowingServer(() => configStore.current),
      actions,
      history,
      audit: sink,
      notify: (text) => notices.push(text),
    });
    const [record] = await repairer.check();
    expect(record).toMatchObject({
      fault: "context_overflow",
      level: 1,
      result: "repaired",
      action: "inference.contextSize 2048 → 4096",
      rolledBack: false,
    });
    expect(configStore.current.inference.contextSize).toBe(4096);
    expect(readFileSync(file, "utf8")).toContain("contextSize: 2048");
    expect(repairer.status().heldPatches).toEqual([
      { fault: "context_overflow", target: "server", description: "inference.contextSize 2048 → 4096" },
    ]);
    expect(history.list().map((r) => [r.fault, r.result])).toEqual([["context_overflow", "repaired"]]);
    expect(events.filter((e) => e.type === "repair.attempt").map((e) => e.outcome)).toEqual(["ok"]);
    expect(notices).toEqual(["Repaired context_overflow (server): inference.contextSize 2048 → 4096"]);
  });

  it("reverts a patch that does not clear the fault within the window", async () => {
    const configStore = openStore("inference:\n  contextSize: 1024\n");
    const records: RepairRecord[] = [];
    repairer = new Repairer({
      config: port(configStore),
      // Still overflowing at 2048: the doubled context is not enough.
      observe: overflowingServer(() => configStore.current),
      actions: { ...actions, trainedContext: () => 2048 },
      history,
      audit: capture().sink,
      onRecord: (record) => records.push(record),
    });
    const [record] = await repairer.check();
    expect(record).toMatchObject({ fault: "context_overflow", result: "reverted", rolledBack: true });
    expect(record!.detail).toContain("did not clear");
    expect(configStore.current.inference.contextSize).toBe(1024);
    expect(repairer.status().heldPatches).toEqual([]);
    // One attempt, counted once in the metrics (the history keeps the final record).
    expect(records.map((r) => r.result)).toEqual(["reverted"]);
  });

  it("undoes a bad value hot-loaded from the file, in the file", async () => {
    const configStore = openStore("inference:\n  contextSize: 8192\n");
    repairer = new Repairer({
      config: port(configStore),
      observe: overflowingServer(() => configStore.current),
      actions,
      history,
      audit: capture().sink,
    });
    expect(await repairer.check()).toEqual([]);
    writeFileSync(file, "inference:\n  contextSize: 256\n" + repairSettings);
    expect(configStore.reload().ok).toBe(true);
    const [record] = await repairer.check();
    expect(record).toMatchObject({ result: "repaired", level: 1 });
    expect(record!.action).toContain("undo the config change");
    expect(record!.action).toContain("inference.contextSize");
    expect(configStore.current.inference.contextSize).toBe(8192);
    expect(readFileSync(file, "utf8")).toContain("contextSize: 8192");
  });

  it("only diagnoses when repair.autoApply is off", async () => {
    const configStore = openStore("inference:\n  contextSize: 2048\n");
    configStore.apply({ repair: { autoApply: false } });
    repairer = new Repairer({
      config: port(configStore),
      observe: overflowingServer(() => configStore.current),
      actions,
      history,
      audit: capture().sink,
    });
    const [record] = await repairer.check();
    expect(record).toMatchObject({ result: "diagnosed", level: 0 });
    expect(configStore.current.inference.contextSize).toBe(2048);
  });

  it("leaves a damaged database to a person and says so", async () => {
    const configStore = openStore("");
    const notices: string[] = [];
    repairer = new Repairer({
      config: port(configStore),
      observe: () =>
        Promise.resolve({
          at: Date.now(),
          logs: [],
          ram: { rssBytes: 1, budgetBytes: 2 ** 40 },
          queues: [],
          disk: { path: root, freeBytes: 2 ** 40 },
          databases: [{ name: "memory", file: "/x.db", status: "corrupt", detail: "quick_check: bad page" }],
          models: [],
        }),
      actions,
      history,
      audit: capture().sink,
      notify: (text) => notices.push(text),
    });
    const [record] = await repairer.check();
    expect(record).toMatchObject({ fault: "sqlite_corrupt", result: "unrepairable" });
    expect(notices[0]).toContain("Could not repair sqlite_corrupt (memory)");
  });

  it("does not try the same fault again within the cooldown", async () => {
    const configStore = openStore("inference:\n  contextSize: 1024\n");
    repairer = new Repairer({
      config: port(configStore),
      observe: overflowingServer(() => configStore.current),
      actions: { ...actions, trainedContext: () => 2048 },
      history,
      audit: capture().sink,
    });
    expect(await repairer.check()).toHaveLength(1);
    expect(await repairer.check()).toHaveLength(0);
    expect(repairer.status().faults.map((f) => f.fault)).toEqual(["context_overflow"]);
  });

  it("reverts the config part of a repair whose action throws", async () => {
    const configStore = openStore("inference:\n  sequences: 4\n");
    repairer = new Repairer({
      config: port(configStore),
      observe: () =>
        Promise.resolve({
          at: Date.now(),
          logs: [],
          ram: { rssBytes: 2 ** 40, budgetBytes: 2 ** 30 },
          queues: [],
          disk: { path: root, freeBytes: 2 ** 40 },
          databases: [],
          models: [],
        }),
      actions: { ...actions, unloadIdleModels: () => Promise.reject(new Error("pool disposed")) },
      history,
      audit: capture().sink,
    });
    const [record] = await repairer.check();
    expect(record).toMatchObject({ fault: "ram_pressure", result: "failed" });
    expect(record!.detail).toContain("pool disposed");
    expect(configStore.current.inference.sequences).toBe(4);
  });

  it("reverts a patch whose check cannot observe the server, and records the failure", async () => {
    const configStore = openStore("inference:\n  contextSize: 2048\n");
    const overflowing = overflowingServer(() => configStore.current);
    let observations = 0;
    repairer = new Repairer({
      config: port(configStore),
      // The pass's own look works; the one that judges the repair throws (a probe that fails).
      observe: (since) =>
        ++observations === 1 ? overflowing(since) : Promise.reject(new Error("statfs failed: ENOENT")),
      actions,
      history,
      audit: capture().sink,
    });
    const [record] = await repairer.check();
    expect(record).toMatchObject({ fault: "context_overflow", result: "failed", rolledBack: false });
    expect(record!.detail).toContain("checking the repair failed (statfs failed: ENOENT), reverted");
    expect(configStore.current.inference.contextSize).toBe(2048);
    expect(repairer.status().heldPatches).toEqual([]);
    expect(history.list().map((r) => r.result)).toEqual(["failed"]);
  });
});

describe("diffConfig", () => {
  it("lists the changed leaves with their old values", () => {
    const a = { inference: { contextSize: 1, speculative: { enabled: true } }, log: { level: "info" } };
    const b = { inference: { contextSize: 2, speculative: { enabled: false } }, log: { level: "info" } };
    const diff = diffConfig(a as never, b as never);
    expect(diff.paths).toEqual(["inference.contextSize", "inference.speculative.enabled"]);
    expect(diff.revert).toEqual({ inference: { contextSize: 1, speculative: { enabled: true } } });
  });
});
