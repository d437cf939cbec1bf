import type { ConfigPatch, ResolvedConfig } from "../config/index.js";
import type { AuditSink } from "../security/index.js";
import { createSilentLogger, type Logger } from "../shared/index.js";
import { diagnose, stillFaulty } from "./detectors.js";
import { planRepairs, type ConfigChangeSeen, type RepairActions } from "./playbook.js";
import type { RepairHistory } from "./repair-history.js";
import type { Diagnosis, FaultKind, Observation, RepairPlan, RepairRecord } from "./types.js";

/** The config store as the repairer uses it. */
export interface RepairConfigPort {
  current(): ResolvedConfig;
  /** Hot-applies a patch; `persist` writes it into the config file when one is in use. */
  apply(patch: ConfigPatch, persist: boolean): { ok: true } | { ok: false; message: string };
  /** Takes back leaves an in-memory patch set. */
  withdraw(patch: ConfigPatch): { ok: true } | { ok: false; message: string };
  subscribe(listener: (next: ResolvedConfig, previous: ResolvedConfig) => void): () => void;
}

export interface RepairerOptions {
  config: RepairConfigPort;
  /** Reads the server: log entries and counter deltas from `since` (epoch ms) to now, probes now. */
  observe(since: number): Promise<Observation>;
  actions: RepairActions;
  history: RepairHistory;
  audit: AuditSink;
  /** Told about every repair that finished, and every fault left for a person. */
  notify?: ((text: string, record: RepairRecord) => void) | undefined;
  /** Called with every record (metrics). */
  onRecord?: ((record: RepairRecord) => void) | undefined;
  /** Called after every pass with the faults it found (metrics). */
  onCheck?: ((faults: readonly Diagnosis[]) => void) | undefined;
  /** Called once by `dispose()`, after the last pass (closes the history). */
  onDispose?: (() => void) | undefined;
  logger?: Logger | undefined;
  now?: (() => number) | undefined;
}

/** What `status()` reports. */
export interface RepairStatus {
  readonly enabled: boolean;
  readonly autoApply: boolean;
  readonly running: boolean;
  /** Epoch ms of the last pass. */
  readonly lastCheckAt: number | undefined;
  /** The faults the last pass found. */
  readonly faults: readonly Diagnosis[];
  /** Config patches repairs hold in memory now. */
  readonly heldPatches: readonly HeldRepair[];
  /** Workarounds in force while their fault lasts (a model role served by the fallback). */
  readonly workarounds: readonly HeldRepair[];
}

/** A repair that stays in force. */
export interface HeldRepair {
  readonly fault: FaultKind;
  readonly target: string;
  readonly description: string;
}

/** Faults read from the current state: a repair clears them as soon as a probe shows it. */
const stateFaults = new Set<FaultKind>([
  "ram_pressure",
  "corrupt_model",
  "model_load_failure",
  "disk_full",
  "sqlite_corrupt",
  "loop_down",
]);

/**
 * Runs the detectors every `repair.intervalMs`, and for each fault tries the playbook's repairs in order: apply,
 * wait up to `repair.verifyMs` for the detector to clear, keep it if it did, revert it if it did not. Repairs run
 * one at a time; a fault on a target is not tried again within `repair.cooldownMs`. Every step is audited and
 * kept in the history.
 */
export class Repairer {
  readonly #options: RepairerOptions;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #changes: ConfigChangeSeen[] = [];
  readonly #firstSeen = new Map<string, number>();
  readonly #lastTried = new Map<string, number>();
  readonly #held: { fault: FaultKind; target: string; description: string; patch: ConfigPatch }[] = [];
  /** Workarounds in force, by fault key: undone once their fault is gone. */
  readonly #workarounds = new Map<
    string,
    { description: string; undo?: (() => Promise<string>) | undefined }
  >();
  readonly #unsubscribe: () => void;
  #faults: Diagnosis[] = [];
  #lastCheckAt: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<RepairRecord[]> | undefined;
  #applying = false;
  #disposed = false;

  constructor(options: RepairerOptions) {
    this.#options = options;
    this.#logger = options.logger ?? createSilentLogger();
    this.#now = options.now ?? Date.now;
    this.#unsubscribe = options.config.subscribe((next, previous) => {
      if (this.#applying) return;
      const change = diffConfig(previous, next);
      if (change.paths.length === 0) return;
      this.#changes.push({ at: this.#now(), ...change });
      if (this.#changes.length > 20) this.#changes.shift();
    });
  }

  get #settings(): ResolvedConfig["repair"] {
    return this.#options.config.current().repair;
  }

  /** Starts the periodic passes. */
  start(): void {
    if (this.#timer !== undefined || this.#disposed) return;
    const schedule = () => {
      this.#timer = setTimeout(() => {
        void this.check()
          .catch((error: unknown) => this.#logger.error({ err: error }, "a repair pass failed"))
          .finally(() => {
            if (this.#timer !== undefined) schedule();
          });
      }, this.#settings.intervalMs);
      this.#timer.unref();
    };
    schedule();
  }

  /** One pass: observe, diagnose, repair. A pass already running is joined, not doubled. */
  check(): Promise<RepairRecord[]> {
    this.#pass ??= this.#check().finally(() => {
      this.#pass = undefined;
    });
    return this.#pass;
  }

  status(): RepairStatus {
    const settings = this.#settings;
    return {
      enabled: settings.enabled,
      autoApply: settings.autoApply,
      running: this.#pass !== undefined,
      lastCheckAt: this.#lastCheckAt,
      faults: this.#faults,
      heldPatches: this.#held.map(({ fault, target, description }) => ({ fault, target, description })),
      workarounds: [...this.#workarounds].map(([key, { description }]) => {
        const [fault, target] = key.split("\u0000") as [FaultKind, string];
        return { fault, target, description };
      }),
    };
  }

  /** The repairs kept in the history, newest first. */
  history(options: { limit?: number; since?: number } = {}): RepairRecord[] {
    return this.#options.history.list(options);
  }

  /** Records a step done elsewhere (a signed patch) in the same history, audit log and metrics. */
  record(record: Omit<RepairRecord, "id">): RepairRecord {
    const stored = this.#options.history.add(record);
    this.#options.onRecord?.(stored);
    this.#options.notify?.(`${record.action}: ${record.result} (${record.summary})`, stored);
    return stored;
  }

  /** Stops the passes and waits for a running one. Idempotent. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#unsubscribe();
    await this.#pass?.catch(() => undefined);
    this.#options.onDispose?.();
  }

  async #check(): Promise<RepairRecord[]> {
    const settings = this.#settings;
    if (!settings.enabled || this.#disposed) return [];
    const now = this.#now();
    const observation = await this.#options.observe(now - settings.windowMs);
    this.#lastCheckAt = now;
    this.#faults = diagnose(observation, settings.thresholds);
    this.#options.onCheck?.(this.#faults);
    const seen = new Set(this.#faults.map(keyOf));
    for (const key of this.#firstSeen.keys()) if (!seen.has(key)) this.#firstSeen.delete(key);
    await this.#releaseWorkarounds(seen);
    const records: RepairRecord[] = [];
    for (const diagnosis of this.#faults) {
      const key = keyOf(diagnosis);
      if (this.#workarounds.has(key)) continue;
      if (!this.#firstSeen.has(key)) this.#firstSeen.set(key, now);
      const last = this.#lastTried.get(key);
      if (last !== undefined && now - last < settings.cooldownMs) continue;
      this.#lastTried.set(key, now);
      if (this.#disposed) break;
      records.push(await this.#repair(diagnosis));
    }
    return records;
  }

  /** Undoes the workarounds whose fault the last pass no longer found (someone fixed the file). */
  async #releaseWorkarounds(seen: ReadonlySet<string>): Promise<void> {
    for (const [key, workaround] of [...this.#workarounds]) {
      if (seen.has(key)) continue;
      this.#workarounds.delete(key);
      let detail = "the fault is gone";
      try {
        if (workaround.undo !== undefined) detail = await workaround.undo();
      } catch (error) {
        detail = `ending the workaround failed: ${errorText(error)}`;
      }
      this.#logger.warn({ key: key.replace("\u0000", ":"), detail }, "workaround ended");
    }
  }

  async #repair(diagnosis: Diagnosis): Promise<RepairRecord> {
    const settings = this.#settings;
    const startedAt = this.#now();
    this.#logger.warn(
      { fault: diagnosis.fault, target: diagnosis.target, evidence: diagnosis.evidence },
      diagnosis.summary,
    );
    if (!settings.autoApply)
      return this.#finish(diagnosis, startedAt, undefined, "diagnosed", "repair.autoApply is off");
    const firstSeen = this.#firstSeen.get(keyOf(diagnosis)) ?? startedAt;
    const recentChange = [...this.#changes]
      .reverse()
      .find((c) => c.at <= firstSeen && firstSeen - c.at <= settings.windowMs);
    const plans = planRepairs(diagnosis, {
      config: this.#options.config.current(),
      actions: this.#options.actions,
      recentChange,
    });
    if (plans.length === 0)
      return this.#finish(
        diagnosis,
        startedAt,
        undefined,
        "unrepairable",
        "no automatic repair for this fault; a person must look",
      );
    const tried: string[] = [];
    let last: { plan: RepairPlan; detail: string; result: "reverted" | "failed" } | undefined;
    for (const plan of plans) {
      const outcome = await this.#attempt(diagnosis, plan);
      if (outcome.result === "repaired") {
        return this.#finish(diagnosis, startedAt, plan, "repaired", [...tried, outcome.detail].join("; "));
      }
      tried.push(`${plan.description}: ${outcome.detail}`);
      last = { plan, detail: outcome.detail, result: outcome.result };
      this.#audit(diagnosis, plan, outcome.result, outcome.detail);
      this.#options.onRecord?.({
        ...this.#skeleton(diagnosis, startedAt, plan),
        result: outcome.result,
        rolledBack: outcome.result === "reverted" && undoable(plan),
        detail: outcome.detail,
        id: 0,
      });
    }
    return this.#finish(
      diagnosis,
      startedAt,
      last?.plan,
      last?.result ?? "failed",
      tried.join("; "),
      last?.result === "reverted" && undoable(last.plan),
      false,
    );
  }

  /** Applies one plan, waits for the fault to clear, reverts when it does not. */
  async #attempt(
    diagnosis: Diagnosis,
    plan: RepairPlan,
  ): Promise<{ result: "repaired" | "reverted" | "failed"; detail: string }> {
    const config = this.#options.config;
    const started = this.#now();
    const previous = plan.patch === undefined ? undefined : valuesAt(config.current(), plan.patch);
    const details: string[] = [];
    if (plan.patch !== undefined) {
      const applied = this.#withApplying(() => config.apply(plan.patch!, plan.persist === true));
      if (!applied.ok)
        return { result: "failed", detail: `the config refused the patch: ${applied.message}` };
      details.push(plan.description);
    }
    if (plan.act !== undefined) {
      try {
        details.push(await plan.act());
      } catch (error) {
        if (plan.patch !== undefined) this.#revertPatch(plan, previous);
        return { result: "failed", detail: `${plan.description} failed: ${errorText(error)}` };
      }
    }
    // Judged on what happens after the change: from the next millisecond on (log times have no finer grain).
    const since = Math.max(started, this.#now()) + 1;
    const workaround = plan.workaround;
    let verdict: "in_force" | "cleared" | "not_cleared";
    try {
      if (workaround !== undefined)
        verdict = workaround.verify(await this.#options.observe(since)) ? "in_force" : "not_cleared";
      else verdict = (await this.#cleared(diagnosis, since)) ? "cleared" : "not_cleared";
    } catch (error) {
      // Unjudged is not kept: the change is taken back as if it had not worked.
      await this.#takeBack(plan, previous, details);
      return {
        result: "failed",
        detail: `${details.join("; ")}; checking the repair failed (${errorText(error)}), reverted`,
      };
    }
    if (verdict === "in_force") {
      this.#workarounds.set(keyOf(diagnosis), { description: plan.description, undo: plan.undo });
      return { result: "repaired", detail: `${details.join("; ")}; in force until the fault is fixed` };
    }
    if (verdict === "cleared") {
      if (plan.patch !== undefined && plan.persist !== true)
        this.#held.push({
          fault: diagnosis.fault,
          target: diagnosis.target,
          description: plan.description,
          patch: plan.patch,
        });
      return { result: "repaired", detail: details.join("; ") };
    }
    await this.#takeBack(plan, previous, details);
    return {
      result: "reverted",
      detail: `${details.join("; ")}; the fault did not clear within ${this.#settings.verifyMs} ms, reverted`,
    };
  }

  /** Reverts the plan's patch and runs its undo, adding what the undo said (or how it failed) to `details`. */
  async #takeBack(plan: RepairPlan, previous: ConfigPatch | undefined, details: string[]): Promise<void> {
    if (plan.patch !== undefined) this.#revertPatch(plan, previous);
    if (plan.undo !== undefined) {
      try {
        details.push(await plan.undo());
      } catch (error) {
        details.push(`undo failed: ${errorText(error)}`);
      }
    }
  }

  #revertPatch(plan: RepairPlan, previous: ConfigPatch | undefined): void {
    const config = this.#options.config;
    const result = this.#withApplying(() =>
      plan.persist === true && previous !== undefined
        ? config.apply(previous, true)
        : config.withdraw(plan.patch!),
    );
    if (!result.ok)
      this.#logger.error({ fault: plan.fault, reason: result.message }, "a repair could not be reverted");
  }

  /** Polls until the detector no longer finds the fault (state faults) or the window ends (log and rate faults). */
  async #cleared(diagnosis: Diagnosis, since: number): Promise<boolean> {
    const settings = this.#settings;
    const deadline = this.#now() + settings.verifyMs;
    const step = Math.max(50, Math.min(1000, settings.verifyMs / 5));
    const fromState = stateFaults.has(diagnosis.fault);
    for (;;) {
      const remaining = deadline - this.#now();
      if (!fromState && remaining > 0) {
        await sleep(Math.min(step, remaining));
        continue;
      }
      const observation = await this.#options.observe(since);
      const faulty = stillFaulty(diagnosis, observation, settings.thresholds);
      if (!faulty) return true;
      if (remaining <= 0) return false;
      await sleep(Math.min(step, remaining));
    }
  }

  #withApplying<T>(fn: () => T): T {
    this.#applying = true;
    try {
      return fn();
    } finally {
      this.#applying = false;
    }
  }

  #skeleton(
    diagnosis: Diagnosis,
    startedAt: number,
    plan: RepairPlan | undefined,
  ): Omit<RepairRecord, "id" | "result" | "detail" | "rolledBack"> {
    return {
      fault: diagnosis.fault,
      target: diagnosis.target,
      level: plan?.level ?? 0,
      action: plan?.description ?? "none",
      summary: diagnosis.summary,
      evidence: diagnosis.evidence,
      startedAt,
      finishedAt: this.#now(),
    };
  }

  #finish(
    diagnosis: Diagnosis,
    startedAt: number,
    plan: RepairPlan | undefined,
    result: RepairRecord["result"],
    detail: string,
    rolledBack = false,
    count = true,
  ): RepairRecord {
    const record = this.#options.history.add({
      ...this.#skeleton(diagnosis, startedAt, plan),
      result,
      detail,
      rolledBack,
    });
    if (count) this.#options.onRecord?.(record);
    this.#audit(diagnosis, plan, result, detail);
    const text =
      result === "repaired"
        ? `Repaired ${diagnosis.fault} (${diagnosis.target}): ${plan?.description ?? ""}`
        : result === "diagnosed"
          ? `Found ${diagnosis.fault} (${diagnosis.target}): ${diagnosis.summary}`
          : `Could not repair ${diagnosis.fault} (${diagnosis.target}): ${diagnosis.summary}`;
    this.#options.notify?.(text, record);
    this.#logger.warn(
      { fault: diagnosis.fault, target: diagnosis.target, result, level: record.level },
      "repair finished",
    );
    return record;
  }

  #audit(diagnosis: Diagnosis, plan: RepairPlan | undefined, result: string, detail: string): void {
    this.#options.audit.record({
      type: "repair.attempt",
      target: `${diagnosis.fault}:${diagnosis.target}`,
      outcome:
        result === "repaired"
          ? "ok"
          : result === "diagnosed" || result === "unrepairable"
            ? "flagged"
            : "error",
      details: {
        level: plan?.level ?? 0,
        action: plan?.description ?? "none",
        result,
        detail,
        evidence: diagnosis.evidence,
      },
    });
  }
}

/** Whether reverting the plan undoes something (a patch or an action with an undo), i.e. is a rollback. */
function undoable(plan: RepairPlan): boolean {
  return plan.patch !== undefined || plan.undo !== undefined;
}

function keyOf(diagnosis: Pick<Diagnosis, "fault" | "target">): string {
  return `${diagnosis.fault}\u0000${diagnosis.target}`;
}

/** The leaves that differ between two configs, and a patch with their values in `previous`. */
export function diffConfig(
  previous: ResolvedConfig,
  next: ResolvedConfig,
): { paths: string[]; revert: ConfigPatch } {
  const paths: string[] = [];
  const revert: Record<string, unknown> = {};
  const walk = (a: unknown, b: unknown, prefix: string[], out: Record<string, unknown>) => {
    if (isObject(a) && isObject(b)) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
        const child: Record<string, unknown> = {};
        const before = a[key];
        if (before !== undefined && isObject(before) && isObject(b[key])) {
          walk(before, b[key], [...prefix, key], child);
          if (Object.keys(child).length > 0) out[key] = child;
        } else if (JSON.stringify(before) !== JSON.stringify(b[key]) && before !== undefined) {
          paths.push([...prefix, key].join("."));
          out[key] = before;
        }
      }
    }
  };
  walk(previous, next, [], revert);
  return { paths, revert: revert };
}

/** The values `config` holds at every leaf `patch` sets, as a patch. */
function valuesAt(config: unknown, patch: unknown): ConfigPatch {
  const result: Record<string, unknown> = {};
  if (!isObject(patch) || !isObject(config)) return result;
  for (const [key, value] of Object.entries(patch)) {
    const current = config[key];
    if (isObject(value) && isObject(current)) result[key] = valuesAt(current, value);
    else if (current !== undefined) result[key] = current;
  }
  return result;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
