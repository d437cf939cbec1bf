/**
 * The tamper-evident audit log: one JSON line per security-relevant event, in a file per UTC day
 * (`audit-YYYY-MM-DD.jsonl`) under one folder.
 *
 * - Every entry carries `seq` (1, 2, 3… across all files), `prev` (the SHA-256 of the previous entry's line;
 *   64 zeros for the first) and `hmac`, an HMAC-SHA256 with a key kept outside the log over the entry's
 *   canonical JSON without `hmac`. Editing a byte breaks the HMAC; removing, reordering or inserting an entry
 *   breaks `seq` or `prev`; a wrong key breaks the first HMAC.
 * - `audit.head` beside the files records the last entry's `seq` and hash (HMAC'd too), written after each
 *   append: cutting whole entries off the end leaves a log shorter than its head, and that is reported. The
 *   next append chains onto the head, not onto the cut log, so the gap stays visible after later writes.
 *   Without the head (deleted with the entries) a cut end cannot be told from a shorter log: only a copy of
 *   the head or the key kept elsewhere anchors it.
 * - A head that names an earlier entry of the chain is stale, not tampered: a crash between appending a line
 *   and renaming the head leaves it one entry behind, and an older head hides nothing the chain does not show.
 * - A crash mid-write leaves a torn last line (no newline) and a head that still names the entry before it:
 *   the log verifies up to that entry. The next open closes the torn line and records `audit.recovered` right
 *   after it, in the same file, naming the torn line and its hash; the verifier accepts exactly that line,
 *   once, when the entry after it is a valid `audit.recovered` for it. Data is never truncated or rewritten.
 *   Anything else that is not a valid entry is tampering.
 * - Prompts are never written: callers pass `hashText(prompt)`.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import {
  appendFileSync,
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import type { ResolvedConfig } from "../config/index.js";
import { AppError } from "../shared/index.js";

/** What a caller records; `seq`, `ts`, `prev` and `hmac` are added by the log. */
export interface AuditEventInput {
  /** Dotted kind: `auth.failure`, `memory.write`, `skill.run`, `guard.hit`, `model.load`, `config.change`… */
  type: string;
  /** Who: a user id, or `key:<first 8 hex of the key's SHA-256>`; never a secret. */
  actor?: string;
  /** What: a fact id, a skill name, a model file, a route. */
  target?: string;
  outcome?: "ok" | "denied" | "error" | "flagged" | "blocked";
  /** Small JSON; prompts only as `hashText(prompt)`. */
  details?: Record<string, unknown>;
}

export interface AuditEntry extends AuditEventInput {
  seq: number;
  ts: string;
  prev: string;
  hmac: string;
}

/** Where events go. `record` never throws: the log must not take a request down with it. */
export interface AuditSink {
  record(event: AuditEventInput): void;
}

/** A sink that keeps nothing (audit off). */
export const noAudit: AuditSink = Object.freeze({ record: () => undefined });

/** `sha256:<hex>` of a text: how prompts and keys appear in the log. */
export function hashText(text: string): string {
  return `sha256:${createHash("sha256").update(text, "utf8").digest("hex")}`;
}

/** `key:<8 hex>`: an API key named in the log without revealing it. */
export function keyActor(key: string): string {
  return `key:${createHash("sha256").update(key, "utf8").digest("hex").slice(0, 8)}`;
}

const genesis = "0".repeat(64);
const fileName = /^audit-(\d{4}-\d{2}-\d{2})\.jsonl$/;
const headFile = "audit.head";

/** JSON with object keys sorted at every level: the bytes the HMAC is taken over. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

function sign(key: Buffer, value: object): string {
  return createHmac("sha256", key).update(canonical(value)).digest("hex");
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === 32 && y.length === 32 && timingSafeEqual(x, y);
}

function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** The day files of a folder, oldest first. */
export function auditFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => fileName.test(name))
    .sort()
    .map((name) => path.join(dir, name));
}

interface Head {
  seq: number;
  hash: string;
}

function readHead(dir: string, key: Buffer): Head | undefined | "invalid" {
  const file = path.join(dir, headFile);
  if (!existsSync(file)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as { seq: number; hash: string; hmac: string };
    const { hmac, ...rest } = parsed;
    if (typeof hmac !== "string" || !sameHex(hmac, sign(key, rest))) return "invalid";
    return { seq: rest.seq, hash: rest.hash };
  } catch {
    return "invalid";
  }
}

export interface AuditLogOptions {
  dir: string;
  key: Buffer;
  now?: () => Date;
  /** Warned once when writing fails (the log keeps trying on later events, counting each loss in `failures`). */
  logger?: { warn(obj: object, msg: string): void };
  /** Told once when writing fails, like `logger`. */
  onError?: (error: unknown) => void;
}

/** The append side of the audit log. Synchronous and fsynced: an entry recorded is an entry on disk. */
export class AuditLog implements AuditSink {
  readonly #dir: string;
  readonly #key: Buffer;
  readonly #now: () => Date;
  readonly #onError: (error: unknown) => void;
  readonly #logger: AuditLogOptions["logger"];
  #failed = false;
  #closed = false;
  /** Entries that could not be written. */
  failures = 0;

  private constructor(options: AuditLogOptions) {
    this.#dir = options.dir;
    this.#key = options.key;
    this.#now = options.now ?? (() => new Date());
    this.#onError = options.onError ?? (() => undefined);
    this.#logger = options.logger;
  }

  /**
   * Opens the log in `dir` (created 0700). Several processes may append to one log (`sarai serve`, `sarai ask`,
   * `sarai loop`): each append takes a lock and chains onto the last entry on disk, not onto what this process
   * wrote last. A torn last line left by a crash is closed and recorded.
   */
  static open(options: AuditLogOptions): AuditLog {
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    const log = new AuditLog(options);
    log.#locked(() => log.#recoverTornLine(auditFiles(options.dir)));
    return log;
  }

  /** Appends one entry, fsynced. Never throws: a failed write is counted in `failures` and reported once. */
  record(event: AuditEventInput): void {
    if (this.#closed) {
      this.failures++;
      return;
    }
    try {
      this.#locked(() => {
        const files = auditFiles(this.#dir);
        this.#recoverTornLine(files);
        this.#append(event, files);
      });
    } catch (error) {
      this.failures++;
      if (!this.#failed) {
        this.#logger?.warn(
          { err: error, dir: this.#dir },
          "the audit log cannot be written; events are being lost",
        );
        this.#onError(error);
      }
      this.#failed = true;
    }
  }

  /**
   * Stops recording; idempotent. No descriptor is held between appends, so nothing else is released; events
   * recorded after it are dropped and counted in `failures`.
   */
  close(): void {
    this.#closed = true;
  }

  /** Runs `work` holding the log's lock (a folder: made atomically, and taken over when a crash left it). */
  #locked(work: () => void): void {
    const lock = path.join(this.#dir, "audit.lock");
    const deadline = Date.now() + 5_000;
    for (;;) {
      try {
        mkdirSync(lock);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
        // Nobody holds the lock for seconds: its owner died between taking and releasing it.
        if (age > 10_000) rmSync(lock, { recursive: true, force: true });
        else if (Date.now() > deadline)
          throw new Error(`the audit log's lock ${lock} is held for too long`, { cause: error });
        else Atomics.wait(sleeper, 0, 0, 5);
      }
    }
    try {
      work();
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }

  /** Closes a torn last line (a crash mid-append) and records which line it was. */
  #recoverTornLine(files: readonly string[]): void {
    const last = files.at(-1);
    // Only the last byte is read on every append; the whole file only after a crash.
    if (last === undefined || endsCleanly(last)) return;
    const text = readFileSync(last, "utf8");
    const lines = text.split("\n");
    const torn = lines.pop() as string;
    appendFileSync(last, "\n");
    // Into the torn line's file even on a later day: the verifier looks for the recovery right after the line.
    this.#append(
      {
        type: "audit.recovered",
        details: { file: path.basename(last), line: lines.length + 1, hash: sha256(torn) },
      },
      files,
      last,
    );
  }

  /**
   * Appends one entry chained onto the last complete entry on disk, or onto the head when the head is ahead of
   * the disk (entries were cut off the end: chaining onto the head keeps that gap visible). The caller holds
   * the lock.
   */
  #append(event: AuditEventInput, files: readonly string[], into?: string): void {
    const now = this.#now();
    const lastLine = lastCompleteLine(files);
    const onDisk: Head = {
      seq: lastLine === undefined ? 0 : (JSON.parse(lastLine) as AuditEntry).seq,
      hash: lastLine === undefined ? genesis : sha256(lastLine),
    };
    const recorded = readHead(this.#dir, this.#key);
    const cut =
      typeof recorded === "object" &&
      (recorded.seq > onDisk.seq || (recorded.seq === onDisk.seq && recorded.hash !== onDisk.hash));
    const previous = cut ? recorded : onDisk;
    const body = {
      seq: previous.seq + 1,
      ts: now.toISOString(),
      prev: previous.hash,
      type: event.type,
      ...(event.actor === undefined ? {} : { actor: event.actor }),
      ...(event.target === undefined ? {} : { target: event.target }),
      ...(event.outcome === undefined ? {} : { outcome: event.outcome }),
      ...(event.details === undefined ? {} : { details: event.details }),
    };
    const line = JSON.stringify({ ...body, hmac: sign(this.#key, body) });
    // A clock that went back a day still appends to the newest file: the chain's order is the files' order.
    const day = `audit-${now.toISOString().slice(0, 10)}.jsonl`;
    const newest = files.at(-1);
    const file =
      into ?? (newest !== undefined && path.basename(newest) > day ? newest : path.join(this.#dir, day));
    const fd = openSync(file, "a", 0o600);
    try {
      appendFileSync(fd, `${line}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const head = { seq: body.seq, hash: sha256(line) };
    const headPath = path.join(this.#dir, headFile);
    writeFileSync(`${headPath}.tmp`, JSON.stringify({ ...head, hmac: sign(this.#key, head) }), {
      mode: 0o600,
    });
    renameSync(`${headPath}.tmp`, headPath);
  }
}

/** Whether a file is empty or ends with a newline (no torn last line): reads its last byte only. */
function endsCleanly(file: string): boolean {
  const size = statSync(file).size;
  if (size === 0) return true;
  const fd = openSync(file, "r");
  try {
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, size - 1);
    return byte[0] === 0x0a;
  } finally {
    closeSync(fd);
  }
}

/** A synchronous sleep for the lock's retries (appends are synchronous by design). */
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** The last complete line holding an entry, in the newest file that has one (a recovered torn line is skipped). */
function lastCompleteLine(files: readonly string[]): string | undefined {
  for (const file of [...files].reverse()) {
    const line = lastEntryLineOf(file);
    if (line !== undefined) return line;
  }
  return undefined;
}

/** Reads back from the end of `file` only as far as its last complete entry line needs. */
function lastEntryLineOf(file: string): string | undefined {
  const size = statSync(file).size;
  if (size === 0) return undefined;
  const fd = openSync(file, "r");
  try {
    for (let chunk = 64 * 1024; ; chunk *= 4) {
      const length = Math.min(size, chunk);
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, size - length);
      const lines = buffer.toString("utf8").split("\n");
      lines.pop(); // after the last newline: empty, or a torn line
      // Unless the chunk starts the file, its first line may be cut.
      if (length < size) lines.shift();
      for (const line of lines.reverse()) if (holdsEntry(line)) return line;
      if (length === size) return undefined;
    }
  } finally {
    closeSync(fd);
  }
}

function holdsEntry(line: string): boolean {
  try {
    const parsed = JSON.parse(line) as { seq?: unknown };
    return typeof parsed === "object" && parsed !== null && typeof parsed.seq === "number";
  } catch {
    return false;
  }
}

export interface AuditProblem {
  file: string;
  /** 1-based line in `file`. */
  line: number;
  seq?: number;
  reason: string;
}

export interface AuditVerification {
  ok: boolean;
  /** Valid entries read. */
  entries: number;
  files: string[];
  /** The first entry that was altered, removed, reordered or inserted. */
  firstBad?: AuditProblem;
  /** A torn last line left by a crash (the log verifies up to the entry before it). */
  tornTail?: { file: string; line: number };
}

/**
 * Walks the chain of `files` (default: every day file of `dir`, oldest first) and names the first entry that
 * does not verify. With `dir`, the head file is checked too (entries cut off the end).
 */
export function verifyAuditLog(options: { dir?: string; files?: string[]; key: Buffer }): AuditVerification {
  const files = options.files ?? (options.dir === undefined ? [] : auditFiles(options.dir));
  let expectedSeq = 1;
  let prev = genesis;
  let entries = 0;
  let tornTail: AuditVerification["tornTail"];
  const result = (firstBad?: AuditProblem): AuditVerification => ({
    ok: firstBad === undefined,
    entries,
    files,
    ...(firstBad === undefined ? {} : { firstBad }),
    ...(tornTail === undefined ? {} : { tornTail }),
  });
  // The first file given on its own may continue an older one: its first entry sets the chain.
  const standalone = options.files !== undefined;
  const head = options.dir !== undefined && !standalone ? readHead(options.dir, options.key) : undefined;
  // The hash of the entry a stale head names, to check that the head does name an entry of this chain.
  let hashAtHead: string | undefined;

  for (const [fileIndex, file] of files.entries()) {
    const name = path.basename(file);
    const text = readFileSync(file, "utf8");
    const lines = text.split("\n");
    if (text.endsWith("\n")) lines.pop();
    const lastFile = fileIndex === files.length - 1;
    let pendingTorn: { line: number; hash: string } | undefined;
    for (const [i, line] of lines.entries()) {
      const lineNo = i + 1;
      const isTail = lastFile && i === lines.length - 1 && !text.endsWith("\n");
      const entry = parseEntry(line, options.key);
      if (typeof entry === "string") {
        if (isTail) {
          tornTail = { file, line: lineNo };
          break;
        }
        // Only a line that is not JSON can be a torn write (no prefix of an entry is a JSON object).
        if (entry !== "not JSON") {
          const seq = seqOf(line);
          return result({ file, line: lineNo, ...(seq === undefined ? {} : { seq }), reason: entry });
        }
        if (pendingTorn === undefined) {
          // Possibly a torn line closed on reopen: valid only if the next entry recovers it.
          pendingTorn = { line: lineNo, hash: sha256(line) };
          continue;
        }
        return result({ file, line: pendingTorn.line, reason: `not a valid entry (${entry})` });
      }
      if (pendingTorn !== undefined) {
        const details = entry.details as { file?: unknown; line?: unknown; hash?: unknown } | undefined;
        const recovers =
          entry.type === "audit.recovered" &&
          details?.file === name &&
          details.line === pendingTorn.line &&
          details.hash === pendingTorn.hash;
        if (!recovers) {
          const reason = parseEntry(lines[pendingTorn.line - 1] as string, options.key) as string;
          return result({ file, line: pendingTorn.line, reason: `not a valid entry (${reason})` });
        }
        pendingTorn = undefined;
      }
      if (standalone && entries === 0 && entry.seq !== 1) {
        expectedSeq = entry.seq;
        prev = entry.prev;
      }
      if (entry.seq !== expectedSeq) {
        const reason =
          entry.seq > expectedSeq
            ? `expected seq ${expectedSeq}: ${entry.seq - expectedSeq} entr${entry.seq - expectedSeq === 1 ? "y is" : "ies are"} missing before it`
            : `seq ${entry.seq} comes after seq ${expectedSeq - 1}: reordered or duplicated`;
        return result({ file, line: lineNo, seq: entry.seq, reason });
      }
      if (entry.prev !== prev) {
        return result({
          file,
          line: lineNo,
          seq: entry.seq,
          reason: "does not chain to the entry before it (an entry was removed, inserted or reordered)",
        });
      }
      entries++;
      expectedSeq++;
      prev = sha256(line);
      if (typeof head === "object" && entry.seq === head.seq) hashAtHead = prev;
    }
    if (pendingTorn !== undefined) {
      const reason = parseEntry(lines[pendingTorn.line - 1] as string, options.key) as string;
      return result({ file, line: pendingTorn.line, reason: `not a valid entry (${reason})` });
    }
  }

  if (options.dir !== undefined && !standalone) {
    const last = files.at(-1) ?? path.join(options.dir, headFile);
    if (head === "invalid") {
      return result({
        file: path.join(options.dir, headFile),
        line: 1,
        reason: "the head file does not verify",
      });
    }
    const lastSeq = expectedSeq - 1;
    // A head behind the log is fine when it names an entry of the chain (see the module comment).
    const stale = head !== undefined && head.seq < lastSeq && head.hash === hashAtHead;
    if (head !== undefined && !stale && (head.seq !== lastSeq || head.hash !== prev)) {
      const reason =
        head.seq > lastSeq
          ? `the log ends at seq ${lastSeq} but its head records seq ${head.seq}: entries were cut off the end`
          : head.seq === lastSeq
            ? `the last entry (seq ${lastSeq}) is not the one the head records: it was replaced`
            : `the head records seq ${head.seq}, which is not an entry of this chain`;
      return result({ file: last, line: Math.max(1, lineCount(last)), reason });
    }
  }
  return result();
}

function lineCount(file: string): number {
  return existsSync(file) && statSync(file).isFile()
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l !== "").length
    : 0;
}

function seqOf(line: string): number | undefined {
  const seq = (JSON.parse(line) as { seq?: unknown }).seq;
  return typeof seq === "number" ? seq : undefined;
}

/** The entry a line holds, or why it holds none. */
function parseEntry(line: string, key: Buffer): AuditEntry | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return "not JSON";
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return "not an object";
  const { hmac, ...body } = parsed as Record<string, unknown>;
  if (typeof hmac !== "string") return "no hmac";
  if (!sameHex(hmac, sign(key, body))) return "HMAC does not match (altered, or the wrong key)";
  if (typeof body.seq !== "number" || typeof body.prev !== "string" || typeof body.type !== "string") {
    return "missing seq, prev or type";
  }
  return parsed as AuditEntry;
}

/** Reads the last `count` entries (newest last), optionally only those whose type starts with `typePrefix`. */
export function tailAuditLog(dir: string, count: number, typePrefix?: string): AuditEntry[] {
  const found: AuditEntry[] = [];
  for (const file of auditFiles(dir).reverse()) {
    const lines = readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .reverse();
    for (const line of lines) {
      let entry: AuditEntry;
      try {
        entry = JSON.parse(line) as AuditEntry;
      } catch {
        continue;
      }
      if (typePrefix !== undefined && !entry.type.startsWith(typePrefix)) continue;
      found.push(entry);
      if (found.length >= count) return found.reverse();
    }
  }
  return found.reverse();
}

/**
 * The HMAC key: `SARAI_AUDIT_KEY` (hex or base64, at least 32 bytes) when set, else `keyFile`, created with 32
 * random bytes and mode 0600 on first use. A key file others can read is refused.
 */
export function loadAuditKey(options: { keyFile: string; env?: NodeJS.ProcessEnv }): Buffer {
  const fromEnv = (options.env ?? process.env).SARAI_AUDIT_KEY;
  if (fromEnv !== undefined && fromEnv !== "") {
    const key = /^[0-9a-fA-F]+$/.test(fromEnv) ? Buffer.from(fromEnv, "hex") : Buffer.from(fromEnv, "base64");
    if (key.length < 32) {
      throw new AppError(
        "INVALID_REQUEST",
        "SARAI_AUDIT_KEY must hold at least 32 bytes (64 hex characters)",
        {
          param: "SARAI_AUDIT_KEY",
        },
      );
    }
    return key;
  }
  const file = options.keyFile;
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const key = randomBytes(32);
    writeFileSync(file, `${key.toString("hex")}\n`, { mode: 0o600, flag: "wx" });
    chmodSync(file, 0o600);
    return key;
  }
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new AppError(
      "INVALID_REQUEST",
      `${file}: the audit key is readable by others (mode ${mode.toString(8)}); chmod 600 it`,
      { param: "security.audit.keyFile" },
    );
  }
  const key = Buffer.from(readFileSync(file, "utf8").trim(), "hex");
  if (key.length < 32) {
    throw new AppError("INVALID_REQUEST", `${file}: the audit key must be at least 64 hex characters`, {
      param: "security.audit.keyFile",
    });
  }
  return key;
}

/** The log folder and key file from `security.audit`: `<logDir>/audit` and `<stateDir>/keys/audit.key`. */
export function resolveAuditPaths(config: ResolvedConfig): { dir: string; keyFile: string } {
  const settings = config.security.audit;
  return {
    dir: settings.dir ?? path.join(config.paths.logDir, "audit"),
    keyFile: settings.keyFile ?? path.join(config.paths.stateDir, "keys", "audit.key"),
  };
}
