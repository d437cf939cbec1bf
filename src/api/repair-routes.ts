import { randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { App } from "../app.js";
import type { RepairService } from "../assemble-repair.js";
import {
  RepairHistory,
  type HeldRepair,
  type PatchOutcome,
  type RepairRecord,
  type RepairStatus,
} from "../repair/index.js";
import { AppError } from "../shared/index.js";
import { parseRequest } from "./errors.js";

/** The largest diff the patch route takes, in bytes (the patch applier refuses bigger ones unread). */
const maxDiffBytes = 10 * 1024 * 1024;
/** The largest armored signature the patch route takes, in bytes. */
const maxSignatureBytes = 64 * 1024;

const isoTime = (text: string) =>
  z.iso.datetime({ offset: true }).safeParse(text).success || z.iso.date().safeParse(text).success;

const historyQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).optional(),
    since: z
      .string()
      .refine(isoTime, "an ISO 8601 date or time, e.g. 2026-01-31 or 2026-01-31T12:00:00Z")
      .optional(),
  })
  .strict();

const bytesAtMost = (max: number) => (text: string) => Buffer.byteLength(text, "utf8") <= max;

const patchBody = z
  .object({
    /** The git diff, as `sarai keys sign` signed it (its exact bytes, UTF-8). */
    diff: z.string().min(1).refine(bytesAtMost(maxDiffBytes), `at most ${maxDiffBytes} bytes (10 MiB)`),
    /** The armored detached signature of `diff`. */
    signature: z
      .string()
      .min(1)
      .refine(bytesAtMost(maxSignatureBytes), `at most ${maxSignatureBytes} bytes (64 KiB)`)
      .refine(
        (text) => text.trimStart().startsWith("-----BEGIN PGP SIGNATURE-----"),
        "an armored OpenPGP signature (-----BEGIN PGP SIGNATURE-----)",
      ),
    /** Test files (install-relative) the test command runs: the subset the patch names. */
    tests: z.array(z.string().min(1).max(1024)).max(1000).optional(),
  })
  .strict();

/**
 * The patch route's body limit: JSON escaping can double a diff (every newline and quote becomes two characters),
 * so room for twice the largest diff and signature; their decoded sizes are checked exactly by the schema.
 */
const patchBodyLimit = 2 * (maxDiffBytes + maxSignatureBytes) + 64 * 1024;

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/** A repair record on the wire: snake_case, times as ISO strings. Evidence keeps the detector's own keys. */
export function toRepairRecordWire(record: RepairRecord) {
  return {
    id: record.id,
    object: "repair.record",
    fault: record.fault,
    target: record.target,
    level: record.level,
    action: record.action,
    result: record.result,
    summary: record.summary,
    evidence: record.evidence,
    detail: record.detail,
    started_at: iso(record.startedAt),
    finished_at: iso(record.finishedAt),
    rolled_back: record.rolledBack,
  };
}

function toStatusWire(status: RepairStatus, patchesEnabled: boolean) {
  return {
    object: "repair.status",
    enabled: status.enabled,
    auto_apply: status.autoApply,
    running: status.running,
    last_check_at: iso(status.lastCheckAt),
    faults: status.faults.map((f) => ({
      fault: f.fault,
      target: f.target,
      summary: f.summary,
      evidence: f.evidence,
    })),
    held_patches: status.heldPatches.map(toHeldWire),
    workarounds: status.workarounds.map(toHeldWire),
    patches_enabled: patchesEnabled,
  };
}

function toHeldWire(held: HeldRepair) {
  return { fault: held.fault, target: held.target, description: held.description };
}

function toPatchOutcomeWire(outcome: PatchOutcome) {
  return {
    object: "repair.patch",
    id: outcome.id,
    status: outcome.status,
    reason: outcome.reason,
    files: outcome.files,
    steps: outcome.steps.map((s) => ({ step: s.step, ok: s.ok, detail: s.detail, ms: s.ms })),
    rollback_ms: outcome.rollbackMs ?? null,
    duration_ms: outcome.durationMs,
  };
}

/**
 * `/v1/repair`: self-repair's admin routes — what the last pass found, the history of repairs, a pass now, and a
 * signed patch. System-wide, so an API key bound to one user may not use them. A refused or failed patch is
 * still a 200: the request was carried out, and the outcome's `status` says what became of the patch.
 */
export function registerRepairRoutes(fastify: FastifyInstance, app: App): void {
  const repairOf = (request: FastifyRequest): RepairService => {
    if (request.sarai.boundUser !== undefined)
      throw new AppError("FORBIDDEN", "the repair routes need an API key that is not bound to a user");
    if (app.repair === undefined)
      throw new AppError("NOT_FOUND", "self-repair is off on this server (repair.enabled: false)");
    return app.repair;
  };

  // The repairer keeps its own connection for writing; the history route reads through a second one (WAL).
  let history: RepairHistory | undefined;
  const historyOf = () => (history ??= RepairHistory.open(path.join(app.config.repair.dir, "repair.db")));
  fastify.addHook("onClose", (_instance, done) => {
    history?.close();
    done();
  });

  fastify.get("/v1/repair/status", (request) => {
    const repair = repairOf(request);
    return toStatusWire(repair.repairer.status(), repair.patches !== undefined);
  });

  fastify.get("/v1/repair/history", (request) => {
    repairOf(request);
    const query = parseRequest(historyQuery, request.query);
    const records = historyOf().list({
      limit: query.limit ?? 100,
      ...(query.since === undefined ? {} : { since: Date.parse(query.since) }),
    });
    return { object: "list", data: records.map(toRepairRecordWire) };
  });

  fastify.post("/v1/repair/check", async (request) => {
    const records = await repairOf(request).repairer.check();
    return { object: "list", data: records.map(toRepairRecordWire) };
  });

  fastify.post("/v1/repair/patches", { bodyLimit: patchBodyLimit }, async (request) => {
    const repair = repairOf(request);
    if (repair.patches === undefined)
      throw new AppError(
        "NOT_FOUND",
        "signed patches are off on this server (repair.patches.enabled: false)",
      );
    const body = parseRequest(patchBody, request.body);
    // Kept after the patch is tried: the history names the file (`<uuid>.diff`), so what was applied can be read.
    const inbox = path.join(app.config.repair.dir, "inbox-api");
    await mkdir(inbox, { recursive: true, mode: 0o700 });
    const diffFile = path.join(inbox, `${randomUUID()}.diff`);
    const signatureFile = `${diffFile}.asc`;
    await writeFile(diffFile, body.diff, { mode: 0o600, flag: "wx" });
    await writeFile(signatureFile, body.signature, { mode: 0o600, flag: "wx" });
    const outcome = await repair.applyPatch({
      diffFile,
      signatureFile,
      ...(body.tests === undefined ? {} : { tests: body.tests }),
    });
    return toPatchOutcomeWire(outcome);
  });
}
