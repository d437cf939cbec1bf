import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { isUtf8 } from "node:buffer";
import path from "node:path";
import type { Command } from "commander";
import { toRepairRecordWire } from "../api/index.js";
import { assembleAudit } from "../assemble.js";
import { assemblePatches } from "../assemble-repair.js";
import type { LoadedConfig, ResolvedConfig } from "../config/index.js";
import { pickLoopApiKey, requestServer } from "../proactive/index.js";
import { RepairHistory, type PatchOutcome } from "../repair/index.js";
import { AuditLog } from "../security/index.js";
import { AppError, createSilentLogger } from "../shared/index.js";
import { printTable } from "./print-table.js";
import { UsageError } from "./usage-error.js";

/** `/v1/repair/status` as the server sends it. */
interface StatusWire {
  enabled: boolean;
  auto_apply: boolean;
  running: boolean;
  last_check_at: string | null;
  faults: { fault: string; target: string; summary: string; evidence: Record<string, unknown> }[];
  held_patches: { fault: string; target: string; description: string }[];
  patches_enabled: boolean;
}

type RecordWire = ReturnType<typeof toRepairRecordWire>;

/** `/v1/repair/patches`' answer, and `--local`'s outcome in the same shape. */
interface OutcomeWire {
  id: string;
  status: PatchOutcome["status"];
  reason: string;
  files: string[];
  steps: { step: string; ok: boolean; detail: string; ms: number }[];
  rollback_ms: number | null;
  duration_ms: number;
}

/** Status, history and check answer within this; a patch's tests and health window get their own time on top. */
const requestTimeoutMs = 60_000;

function limitOf(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 1000)
    throw new UsageError(`--limit: a whole number from 1 to 1000, not "${text}"`);
  return value;
}

/** One JSON request to the running server with the loop's admin key (an unbound one when there is). */
function askServer(
  config: ResolvedConfig,
  url: string | undefined,
  request: { method: "GET" | "POST"; path: string; body?: unknown; timeoutMs?: number },
): Promise<unknown> {
  return requestServer(
    { serverUrl: url ?? config.proactive.serverUrl, apiKey: pickLoopApiKey(config.server.apiKeys)?.key },
    { timeoutMs: requestTimeoutMs, ...request },
    new AbortController().signal,
  );
}

/** Time, fault, target, level, result, action: newest first, as the history lists them. */
function printRecords(records: readonly RecordWire[]): void {
  printTable(
    ["time", "fault", "target", "level", "result", "action"],
    records.map((r) => [
      (r.started_at ?? "").replace(/\.\d{3}Z$/, "Z"),
      r.fault,
      r.target,
      String(r.level),
      r.result,
      r.action,
    ]),
  );
}

function printStatus(status: StatusWire): void {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const onOff = (value: boolean) => (value ? "on" : "off");
  out(
    `self-repair ${onOff(status.enabled)}, auto-apply ${onOff(status.auto_apply)}, ` +
      `signed patches ${onOff(status.patches_enabled)}${status.running ? "; a pass is running" : ""}`,
  );
  out(`last check: ${status.last_check_at ?? "none yet"}`);
  if (status.faults.length === 0) out("faults: none");
  else {
    out(`faults (${status.faults.length}):`);
    for (const f of status.faults) out(`  ${f.fault}  ${f.target}  ${f.summary}`);
  }
  if (status.held_patches.length === 0) out("held config patches: none");
  else {
    out(`held config patches (in memory until restart):`);
    for (const held of status.held_patches) out(`  ${held.fault}  ${held.target}  ${held.description}`);
  }
}

function toOutcomeWire(outcome: PatchOutcome): OutcomeWire {
  return {
    id: outcome.id,
    status: outcome.status,
    reason: outcome.reason,
    files: outcome.files,
    steps: outcome.steps,
    rollback_ms: outcome.rollbackMs ?? null,
    duration_ms: outcome.durationMs,
  };
}

/** Applied: the files on stdout, exit 0. Anything else: the reason and every failed step on stderr, exit 1. */
function reportOutcome(outcome: OutcomeWire, json: boolean): void {
  if (json) process.stdout.write(`${JSON.stringify(outcome)}\n`);
  if (outcome.status === "applied") {
    if (!json)
      process.stdout.write(
        `applied ${outcome.id}: ${outcome.files.join(", ")} (${outcome.duration_ms} ms); ${outcome.reason}\n`,
      );
    return;
  }
  // Test output runs over several lines: indented under the line it belongs to.
  const indent = (text: string) => text.trimEnd().replace(/\n/g, "\n    ");
  process.stderr.write(`sarai: patch ${outcome.id} ${outcome.status}: ${indent(outcome.reason)}\n`);
  // A failed step's detail is often the reason itself: not printed twice.
  for (const step of outcome.steps.filter((s) => !s.ok))
    process.stderr.write(
      `  ${step.step} failed${step.detail === outcome.reason ? "" : `: ${indent(step.detail)}`}\n`,
    );
  process.exitCode = 1;
}

/** A file the user named, or a usage error naming it. */
async function readNamed(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === "ENOENT"
        ? `${what} ${file} does not exist`
        : `${what} ${file} cannot be read (${code ?? (error as Error).message})`,
    );
  }
}

/** Applies in this process: the tests gate the patch, and no server's health is watched. */
async function applyLocally(
  config: ResolvedConfig,
  request: { diffFile: string; signatureFile: string; tests?: string[] },
): Promise<PatchOutcome> {
  const audit = assembleAudit(config, createSilentLogger());
  try {
    const patches = assemblePatches(config, audit, () =>
      Promise.resolve({ ok: true, detail: "no server running; only the tests gate it" }),
    );
    if (patches === undefined)
      throw new AppError(
        "NOT_FOUND",
        "signed patches are off (repair.enabled and repair.patches.enabled must both be true)",
      );
    return await patches.apply(request);
  } finally {
    if (audit instanceof AuditLog) audit.close();
  }
}

interface ApplyFlags {
  tests?: string;
  url?: string;
  local?: boolean;
  json?: boolean;
}

async function runApply(
  loaded: LoadedConfig,
  diffFile: string,
  signatureFile: string,
  flags: ApplyFlags,
): Promise<void> {
  const config = loaded.config;
  if (flags.local === true && flags.url !== undefined)
    throw new UsageError("--local applies in this process; it takes no --url");
  const tests =
    flags.tests === undefined
      ? undefined
      : flags.tests
          .split(",")
          .map((test) => test.trim())
          .filter((test) => test !== "");
  const diff = await readNamed(diffFile, "the diff");
  if (flags.local === true) {
    // The applier reads the signature: a missing one is an unsigned patch, refused and audited like any other.
    const outcome = await applyLocally(config, {
      diffFile: path.resolve(diffFile),
      signatureFile: path.resolve(signatureFile),
      ...(tests === undefined ? {} : { tests }),
    });
    reportOutcome(toOutcomeWire(outcome), flags.json === true);
    return;
  }
  const signature = await readNamed(signatureFile, "the signature");
  // The API takes text: a diff is UTF-8, a signature sent over it armored (`sarai keys sign` writes that).
  if (!isUtf8(diff)) throw new UsageError(`the diff ${diffFile} is not UTF-8 text; use --local`);
  const armored = signature.toString("utf8");
  if (!isUtf8(signature) || !armored.trimStart().startsWith("-----BEGIN PGP SIGNATURE-----"))
    throw new UsageError(
      `the signature ${signatureFile} is not an armored OpenPGP signature; sign with \`sarai keys sign\` or use --local`,
    );
  const patches = config.repair.patches;
  const outcome = (await askServer(config, flags.url, {
    method: "POST",
    path: "/v1/repair/patches",
    body: { diff: diff.toString("utf8"), signature: armored, ...(tests === undefined ? {} : { tests }) },
    // Tests, then the health window, then room for the worktree and the switch.
    timeoutMs: patches.testTimeoutMs + patches.healthWindowMs + requestTimeoutMs,
  })) as OutcomeWire;
  reportOutcome(outcome, flags.json === true);
}

/**
 * `sarai repair status|history|check|apply`: self-repair. `history` reads the history database and works with the
 * server stopped; the others ask the running server (`proactive.serverUrl`, or `--url`) with the loop's admin key,
 * except `apply --local`, which applies a signed patch in this process.
 */
export function registerRepairCommands(program: Command, loadConfigured: () => LoadedConfig): void {
  const repair = program
    .command("repair")
    .description("self-repair: what the server found, the repairs it made, signed patches");

  repair
    .command("status")
    .description("what the running server's last repair pass found (exit 1 when the server does not answer)")
    .option("--url <url>", "the server (default proactive.serverUrl)")
    .option("--json", "print the server's answer as JSON")
    .action(async (flags: { url?: string; json?: boolean }) => {
      const config = loadConfigured().config;
      const status = (await askServer(config, flags.url, {
        method: "GET",
        path: "/v1/repair/status",
      })) as StatusWire;
      if (flags.json === true) process.stdout.write(`${JSON.stringify(status)}\n`);
      else printStatus(status);
    });

  repair
    .command("history")
    .description("the repairs tried, newest first, from the history database (no server needed)")
    .option("--limit <n>", "how many, 1 to 1000", "20")
    .option("--json", "one JSON record per line")
    .action((flags: { limit: string; json?: boolean }) => {
      const limit = limitOf(flags.limit);
      const file = path.join(loadConfigured().config.repair.dir, "repair.db");
      let records: RecordWire[] = [];
      // Reading must not create the database (and its folder) where there was none.
      if (existsSync(file)) {
        const history = RepairHistory.open(file);
        try {
          records = history.list({ limit }).map(toRepairRecordWire);
        } finally {
          history.close();
        }
      }
      if (flags.json === true) {
        for (const record of records) process.stdout.write(`${JSON.stringify(record)}\n`);
      } else if (records.length === 0) process.stdout.write(`no repairs recorded yet (${file})\n`);
      else printRecords(records);
    });

  repair
    .command("check")
    .description("run one repair pass on the running server now and print what it did")
    .option("--url <url>", "the server (default proactive.serverUrl)")
    .option("--json", "one JSON record per line")
    .action(async (flags: { url?: string; json?: boolean }) => {
      const config = loadConfigured().config;
      const { data } = (await askServer(config, flags.url, {
        method: "POST",
        path: "/v1/repair/check",
        // A pass waits up to repair.verifyMs for each repair it tries: room for ten.
        timeoutMs: requestTimeoutMs + 10 * config.repair.verifyMs,
      })) as { data: RecordWire[] };
      if (flags.json === true) {
        for (const record of data) process.stdout.write(`${JSON.stringify(record)}\n`);
      } else if (data.length === 0) process.stdout.write("no fault to repair (or all cooling down)\n");
      else printRecords(data);
    });

  repair
    .command("apply")
    .description(
      "apply a signed patch on the running server (or --local, in this process); exit 1 unless it was applied",
    )
    .argument("<patch.diff>", "the git diff")
    .argument("<patch.diff.asc>", "its detached signature (armored for the server)")
    .option("--tests <list>", "comma-separated test files the test command runs")
    .option("--url <url>", "the server (default proactive.serverUrl)")
    .option("--local", "apply in this process: the tests gate it, no server's health is watched")
    .option("--json", "print the outcome as JSON")
    .action((diffFile: string, signatureFile: string, flags: ApplyFlags) =>
      runApply(loadConfigured(), diffFile, signatureFile, flags),
    );
}
