import { mkdirSync, statSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { AppError } from "../shared/index.js";
import { migrate } from "./migrations.js";
import { normalizeKey } from "./normalize.js";
import { isSingleValuedRelation, normalizeRelation, speakerSubjects } from "./relations.js";
import type { FactExtractor, FactSource } from "./types.js";
import { factExtractors, factSources } from "./types.js";

/** A stored fact. Times are Unix epoch milliseconds. */
export interface Fact {
  id: number;
  userId: string;
  subject: string;
  relation: string;
  object: string;
  negated: boolean;
  /** 0..1; raised (bounded by 0.99) each time the same fact is stated again. */
  confidence: number;
  source: FactSource;
  /**
   * Which extractor found it: `rules`, `model`, or `both` once both have (in one message or across several);
   * null for a fact added by hand. Always set on the facts the store returns (optional for hand-built ones).
   */
  extractor?: FactExtractor | null;
  /** The chat message the fact came from, when it came from one. */
  messageId: string | null;
  /** Time qualifier kept with the fact ("desde 2019", "on Monday"). */
  when: string | null;
  /** Times the fact was stated. */
  mentions: number;
  /** Pinned facts survive `rotate`. */
  pinned: boolean;
  createdAt: number;
  /** Last time the fact was stated or changed. */
  updatedAt: number;
  validFrom: number;
  /** When the fact stopped holding; null while it is active. */
  validTo: number | null;
  /** The fact that replaced this one, when one did (and still exists). */
  supersededBy: number | null;
}

/** A fact to remember. */
export interface NewFact {
  userId: string;
  subject: string;
  relation: string;
  object: string;
  negated?: boolean;
  confidence: number;
  source: FactSource;
  /** Which extractor found it; none (null) when not given. Restating a fact adds its extractor. */
  extractor?: FactExtractor | null;
  messageId?: string | null;
  when?: string | null;
  pinned?: boolean;
}

/** What `remember` did: a new row, a stronger old one, or nothing (an assistant guess against the user's word). */
export type RememberOutcome = "inserted" | "reinforced" | "kept_existing";

export interface RememberResult {
  outcome: RememberOutcome;
  fact: Fact;
  /** Facts this one closed (negated or replaced), now historic. */
  closed: number[];
}

export interface RecallQuery {
  userId: string;
  subject?: string;
  relation?: string;
  object?: string;
  /** Free text: facts whose subject or object is a word sequence of the text (case and accents folded). */
  text?: string;
  /** Most facts returned, 1–1000. Default: 50. */
  limit?: number;
  /** Also return closed (historic) facts. Default: false. */
  includeHistory?: boolean;
  /** Only facts at least this confident. Default: 0. */
  minConfidence?: number;
}

export interface ForgetQuery {
  userId: string;
  id?: number;
  subject?: string;
  relation?: string;
  object?: string;
}

export interface VacuumReport {
  duplicatesRemoved: number;
  bytesBefore: number;
  bytesAfter: number;
}

export interface StoreStats {
  facts: number;
  activeFacts: number;
  historicFacts: number;
  users: number;
  sizeMb: number;
}

export interface EntityStoreOptions {
  /** The database file; its directory is created. `:memory:` for a throwaway store. */
  file: string;
  /** `normal` survives a process crash; `full` also a power cut. Default: `normal`. */
  synchronous?: "normal" | "full";
  /** Milliseconds since the epoch; injectable for tests. Default: `Date.now`. */
  now?: () => number;
  /** Open read-only (no migrations, no writes). */
  readonly?: boolean;
  /**
   * How long a statement waits for another connection's lock before it fails with `SQLITE_BUSY` (SQLite's
   * `busy_timeout`), in ms; {@link EntityStore.setBusyTimeout} changes it later. Default: `5000`.
   */
  busyTimeoutMs?: number;
}

const defaultBusyTimeoutMs = 5000;

/** The timeout itself when it is a whole number of ms SQLite takes (it is written into the pragma's text). */
function checkBusyTimeout(ms: number): number {
  if (!Number.isInteger(ms) || ms < 0 || ms > 2 ** 31 - 1) {
    throw new RangeError(`busy timeout must be a whole number of ms from 0 to 2147483647, not ${ms}`);
  }
  return ms;
}

/** Longest subject or object stored, in characters. */
export const maxFactTextLength = 300;
/** Longest user id, in characters. */
export const maxUserIdLength = 128;

const maxConfidence = 0.99;
const defaultRecallLimit = 50;
const maxRecallLimit = 1000;
/** Word n-grams of recall text tried as subject/object keys. */
const maxTextGram = 4;
const maxTextKeys = 400;
const dayMs = 86_400_000;

interface FactRow {
  id: number;
  user_id: string;
  subject: string;
  relation: string;
  object: string;
  negated: number;
  confidence: number;
  source: FactSource;
  extractor: FactExtractor | null;
  message_id: string | null;
  when_text: string | null;
  mentions: number;
  pinned: number;
  created_at: number;
  updated_at: number;
  valid_from: number;
  valid_to: number | null;
  superseded_by: number | null;
}

const factColumns =
  "id, user_id, subject, relation, object, negated, confidence, source, extractor, message_id, when_text, mentions, pinned, created_at, updated_at, valid_from, valid_to, superseded_by";

/** The key a subject is matched by: the speaker's `user` and `usuario` share one. */
export function subjectKey(subject: string): string {
  const key = normalizeKey(subject);
  return speakerSubjects.has(key) ? "@user" : key;
}

/**
 * Facts in SQLite (better-sqlite3, WAL): history instead of overwrites, reinforcement instead of duplicates,
 * every query scoped by user id. Synchronous by design: one statement takes microseconds, far less than an
 * await.
 */
export class EntityStore {
  readonly file: string;
  readonly #db: Database.Database;
  readonly #now: () => number;
  readonly #statements: ReturnType<typeof prepareStatements>;
  #closed = false;

  private constructor(file: string, db: Database.Database, now: () => number) {
    this.file = file;
    this.#db = db;
    this.#now = now;
    this.#statements = prepareStatements(db);
  }

  /** Opens (creating and migrating when needed) the database file. */
  static open(options: EntityStoreOptions): EntityStore {
    const { file } = options;
    let db: Database.Database;
    try {
      if (file !== ":memory:") mkdirSync(path.dirname(file), { recursive: true });
      db = new Database(file, {
        readonly: options.readonly ?? false,
        fileMustExist: options.readonly ?? false,
      });
    } catch (error) {
      throw new AppError("STORE_FAILED", `cannot open the memory database ${file}: ${describe(error)}`, {
        param: file,
        cause: error,
      });
    }
    try {
      db.pragma(`busy_timeout = ${checkBusyTimeout(options.busyTimeoutMs ?? defaultBusyTimeoutMs)}`);
      if (options.readonly !== true) {
        db.pragma("journal_mode = WAL");
        db.pragma(`synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`);
        db.pragma("foreign_keys = ON");
        // Index pages of a large table stay in memory: inserts with random keys touch many of them.
        db.pragma("cache_size = -65536");
        db.pragma("temp_store = MEMORY");
        migrate(db, file);
      }
      return new EntityStore(file, db, options.now ?? Date.now);
    } catch (error) {
      db.close();
      if (error instanceof AppError) throw error;
      throw new AppError("STORE_FAILED", `cannot prepare the memory database ${file}: ${describe(error)}`, {
        param: file,
        cause: error,
      });
    }
  }

  /**
   * Stores a fact. The same active fact again is reinforced (confidence up, bounded; mentions + 1); a fact that
   * negates an active one, or gives a single-valued relation a new object, closes the old one (`validTo`,
   * `supersededBy`) so history stays queryable. An assistant-sourced fact never overrules what the user said.
   */
  remember(input: NewFact): RememberResult {
    const fact = validateNewFact(input);
    // IMMEDIATE: the write lock is taken first. A deferred transaction that reads and then writes fails with
    // SQLITE_BUSY at once when another connection writes, without waiting the busy timeout.
    return this.#db.transaction(() => this.#remember(fact)).immediate();
  }

  /** Stores many facts in one transaction: all of them or, on an error, none. */
  rememberMany(inputs: readonly NewFact[]): RememberResult[] {
    const facts = inputs.map((input, index) => validateNewFact(input, `facts[${index}]`));
    return this.#db.transaction(() => facts.map((fact) => this.#remember(fact))).immediate();
  }

  #remember(fact: ValidFact): RememberResult {
    const s = this.#statements;
    const now = this.#now();
    // Fast path, the common case in a bulk insert: nothing active with this key and nothing to close. The
    // unique index on active facts refuses the row when the key exists; then the full path below decides.
    if (fact.negated || !isSingleValuedRelation(fact.relation)) {
      const inserted = s.insertIfNew.run(this.#insertParams(fact, now));
      if (inserted.changes === 1)
        return {
          outcome: "inserted",
          fact: this.#inserted(fact, now, Number(inserted.lastInsertRowid)),
          closed: [],
        };
    }
    const same = s.findActive.get(fact.userId, fact.subjectKey, fact.relation, fact.objectKey) as
      FactRow | undefined;
    if (same !== undefined && Boolean(same.negated) === fact.negated) {
      s.reinforce.run(
        reinforce(same.confidence, fact.confidence),
        now,
        fact.when,
        fact.pinned ? 1 : 0,
        combineExtractors(same.extractor, fact.extractor),
        same.id,
      );
      return { outcome: "reinforced", fact: this.#get(same.id), closed: [] };
    }

    const toClose: FactRow[] = [];
    if (same !== undefined) toClose.push(same);
    if (!fact.negated && isSingleValuedRelation(fact.relation)) {
      const others = s.findActiveValues.all(fact.userId, fact.subjectKey, fact.relation) as (FactRow & {
        object_key: string;
      })[];
      for (const other of others)
        if (other.object_key !== fact.objectKey && !other.negated) toClose.push(other);
    }
    if (fact.source === "assistant" && toClose.some((row) => row.source !== "assistant")) {
      const kept = toClose.find((row) => row.source !== "assistant") as FactRow;
      return { outcome: "kept_existing", fact: toFact(kept), closed: [] };
    }

    // Close first: the unique index allows one active row per (user, subject, relation, object).
    for (const row of toClose) s.close.run(now, now, row.id);
    const id = Number(s.insert.run(this.#insertParams(fact, now)).lastInsertRowid);
    for (const row of toClose) s.supersede.run(id, row.id);
    const stored = this.#inserted(fact, now, id);
    return { outcome: "inserted", fact: stored, closed: toClose.map((row) => row.id) };
  }

  #insertParams(fact: ValidFact, now: number) {
    return {
      user_id: fact.userId,
      subject: fact.subject,
      subject_key: fact.subjectKey,
      relation: fact.relation,
      object: fact.object,
      object_key: fact.objectKey,
      negated: fact.negated ? 1 : 0,
      confidence: Math.min(maxConfidence, fact.confidence),
      source: fact.source,
      extractor: fact.extractor,
      message_id: fact.messageId,
      when_text: fact.when,
      pinned: fact.pinned ? 1 : 0,
      now,
    };
  }

  /** The fact just inserted, built from its values: reading the row back would cost a query per fact. */
  #inserted(fact: ValidFact, now: number, id: number): Fact {
    return {
      id,
      userId: fact.userId,
      subject: fact.subject,
      relation: fact.relation,
      object: fact.object,
      negated: fact.negated,
      confidence: roundConfidence(Math.min(maxConfidence, fact.confidence)),
      source: fact.source,
      extractor: fact.extractor,
      messageId: fact.messageId,
      when: fact.when,
      mentions: 1,
      pinned: fact.pinned,
      createdAt: now,
      updatedAt: now,
      validFrom: now,
      validTo: null,
      supersededBy: null,
    };
  }

  /**
   * Records that `extractor` also found this user's active fact (same subject, relation, object and polarity):
   * its provenance becomes `both` when another extractor had found it. Not a restatement: mentions and
   * confidence stay. Returns the fact, or undefined when there is no such active fact.
   */
  recordExtractor(
    fact: { userId: string; subject: string; relation: string; object: string; negated: boolean },
    extractor: FactExtractor,
  ): Fact | undefined {
    const relation = normalizeRelation(fact.relation) ?? fact.relation;
    const row = this.#statements.findActive.get(
      validateUserId(fact.userId),
      subjectKey(fact.subject),
      relation,
      normalizeKey(fact.object),
    ) as FactRow | undefined;
    if (row === undefined || Boolean(row.negated) !== fact.negated) return undefined;
    const combined = combineExtractors(row.extractor, extractor);
    if (combined !== row.extractor) this.#statements.setExtractor.run(combined, row.id);
    return this.#get(row.id);
  }

  /** One fact of this user, or undefined. */
  get(userId: string, id: number): Fact | undefined {
    const row = this.#statements.getForUser.get(id, userId) as FactRow | undefined;
    return row === undefined ? undefined : toFact(row);
  }

  #get(id: number): Fact {
    return toFact(this.#statements.getById.get(id) as FactRow);
  }

  /**
   * The user's facts matching every given filter, most confident and most recent first. `text` matches facts
   * whose subject or object appears in it as a word sequence ("¿Dónde vive lucia?" finds Lucía's facts).
   */
  recall(query: RecallQuery): Fact[] {
    const userId = validateUserId(query.userId);
    const limit = Math.min(maxRecallLimit, Math.max(1, Math.trunc(query.limit ?? defaultRecallLimit)));
    const where = ["user_id = ?"];
    const params: unknown[] = [userId];
    if (query.includeHistory !== true) where.push("valid_to IS NULL");
    addTripleFilters(query, where, params);
    if (query.minConfidence !== undefined && query.minConfidence > 0) {
      where.push("confidence >= ?");
      params.push(query.minConfidence);
    }
    const filters = where.join(" AND ");
    const order = "ORDER BY valid_to IS NOT NULL, confidence DESC, updated_at DESC, id DESC LIMIT ?";
    if (query.text === undefined) {
      return (
        this.#cached(`SELECT ${factColumns} FROM facts WHERE ${filters} ${order}`).all(
          ...params,
          limit,
        ) as FactRow[]
      ).map(toFact);
    }
    const keys = textKeys(query.text);
    if (keys.length === 0) return [];
    const list = JSON.stringify(keys);
    // Two index lookups (subject, object) joined by UNION, rather than an OR that would scan.
    const sql =
      `SELECT * FROM (SELECT ${factColumns} FROM facts WHERE ${filters} AND subject_key IN (SELECT value FROM json_each(?)) ` +
      `UNION SELECT ${factColumns} FROM facts WHERE ${filters} AND object_key IN (SELECT value FROM json_each(?))) ${order}`;
    return (this.#cached(sql).all(...params, list, ...params, list, limit) as FactRow[]).map(toFact);
  }

  /** All facts of one user, history included, oldest first (for export). */
  list(userId: string): Fact[] {
    return (this.#statements.listUser.all(validateUserId(userId)) as FactRow[]).map(toFact);
  }

  /**
   * Deletes facts of this user for good, history included: one by id, or every fact matching the given
   * subject / relation / object. Returns how many rows went. Without any filter nothing is deleted.
   */
  forget(query: ForgetQuery): number {
    const userId = validateUserId(query.userId);
    if (query.id !== undefined) return this.#statements.deleteOne.run(query.id, userId).changes;
    const where = ["user_id = ?"];
    const params: unknown[] = [userId];
    addTripleFilters(query, where, params);
    if (params.length === 1) return 0;
    return this.#db.prepare(`DELETE FROM facts WHERE ${where.join(" AND ")}`).run(...params).changes;
  }

  /** Deletes every fact of a user (export first if you need them). */
  forgetUser(userId: string): number {
    return this.#statements.deleteUser.run(validateUserId(userId)).changes;
  }

  /** Pins or unpins a fact; pinned facts survive `rotate`. Returns the fact, or undefined when not found. */
  pin(userId: string, id: number, pinned: boolean): Fact | undefined {
    this.#statements.pin.run(pinned ? 1 : 0, id, validateUserId(userId));
    return this.get(userId, id);
  }

  /**
   * Compaction: removes historic rows that repeat a newer row of the same fact and polarity (a fact toggled
   * on and off keeps only its latest states), then checkpoints the WAL and runs SQLite VACUUM.
   */
  vacuum(): VacuumReport {
    const bytesBefore = this.#sizeBytes();
    const duplicatesRemoved = this.#statements.deduplicate.run().changes;
    this.#db.pragma("wal_checkpoint(TRUNCATE)");
    this.#db.exec("VACUUM");
    this.#db.pragma("wal_checkpoint(TRUNCATE)");
    return { duplicatesRemoved, bytesBefore, bytesAfter: this.#sizeBytes() };
  }

  /**
   * Expiry: removes unpinned facts not stated for more than `days` days (historic ones by when they closed).
   * Scoped to one user when given. Returns how many went.
   */
  rotate(days: number, userId?: string): number {
    if (!Number.isFinite(days) || days < 0)
      throw new AppError("INVALID_REQUEST", `days must be a number ≥ 0, got ${days}`, { param: "days" });
    const cutoff = this.#now() - days * dayMs;
    if (userId === undefined) return this.#statements.rotateAll.run(cutoff).changes;
    return this.#statements.rotateUser.run(cutoff, validateUserId(userId)).changes;
  }

  /** Counts (for one user, or all) and the database size. */
  stats(userId?: string): StoreStats {
    const row = (
      userId === undefined
        ? this.#statements.statsAll.get()
        : this.#statements.statsUser.get(validateUserId(userId))
    ) as { facts: number; active: number | null; users: number };
    const active = row.active ?? 0;
    return {
      facts: row.facts,
      activeFacts: active,
      historicFacts: row.facts - active,
      users: row.users,
      sizeMb: Math.round((this.#sizeBytes() / 2 ** 20) * 1000) / 1000,
    };
  }

  /** Runs `fn` in one write transaction (all or nothing), waiting up to the busy timeout for the lock. */
  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn).immediate();
  }

  /**
   * Inserts a historic (closed) fact as it is, for import: it never reinforces or closes anything.
   * Validated like `remember`.
   */
  insertHistoric(input: NewFact & { validFrom: number; validTo: number; createdAt?: number }): Fact {
    const fact = validateNewFact(input);
    const id = Number(
      this.#statements.insertHistoric.run({
        ...this.#insertParams(fact, input.validTo),
        created_at: input.createdAt ?? input.validFrom,
        valid_from: input.validFrom,
        valid_to: input.validTo,
      }).lastInsertRowid,
    );
    return this.#get(id);
  }

  /** `PRAGMA integrity_check`: `ok` or the problems SQLite found. */
  integrityCheck(): string {
    return (this.#db.pragma("integrity_check") as { integrity_check: string }[])
      .map((row) => row.integrity_check)
      .join("\n");
  }

  /** How long a statement waits for another connection's lock, in ms (read back from the connection). */
  get busyTimeoutMs(): number {
    return this.#db.pragma("busy_timeout", { simple: true }) as number;
  }

  /**
   * Changes how long a statement waits for another connection's lock before it fails with `SQLITE_BUSY`, in ms;
   * from the next statement on. A `RangeError` for a negative or fractional value.
   */
  setBusyTimeout(ms: number): void {
    this.#db.pragma(`busy_timeout = ${checkBusyTimeout(ms)}`);
  }

  /** Closes the database; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  readonly #sqlCache = new Map<string, Database.Statement>();

  #cached(sql: string): Database.Statement {
    let statement = this.#sqlCache.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      if (this.#sqlCache.size > 64) this.#sqlCache.clear();
      this.#sqlCache.set(sql, statement);
    }
    return statement;
  }

  #sizeBytes(): number {
    if (this.file === ":memory:") {
      const pages = this.#db.pragma("page_count", { simple: true }) as number;
      return pages * (this.#db.pragma("page_size", { simple: true }) as number);
    }
    let total = 0;
    for (const suffix of ["", "-wal"]) {
      try {
        total += statSync(this.file + suffix).size;
      } catch {
        // No WAL file right after a TRUNCATE checkpoint.
      }
    }
    return total;
  }
}

interface ValidFact {
  userId: string;
  subject: string;
  subjectKey: string;
  relation: string;
  object: string;
  objectKey: string;
  negated: boolean;
  confidence: number;
  source: FactSource;
  extractor: FactExtractor | null;
  messageId: string | null;
  when: string | null;
  pinned: boolean;
}

/** The provenance of a fact two extractors found: the same one, or `both`; none adds nothing. */
function combineExtractors(a: FactExtractor | null, b: FactExtractor | null): FactExtractor | null {
  if (a === null || a === b) return b ?? a;
  if (b === null) return a;
  return "both";
}

function validateUserId(userId: string, param = "user"): string {
  if (typeof userId !== "string" || userId.trim() === "")
    throw new AppError("INVALID_REQUEST", "a user id is required", { param });
  if (userId.length > maxUserIdLength)
    throw new AppError("INVALID_REQUEST", `the user id is longer than ${maxUserIdLength} characters`, {
      param,
    });
  return userId;
}

function validateText(value: unknown, param: string): string {
  if (typeof value !== "string")
    throw new AppError("INVALID_REQUEST", `${param} must be a string`, { param });
  const text = value.replace(/\s+/gu, " ").trim();
  if (text === "") throw new AppError("INVALID_REQUEST", `${param} must not be empty`, { param });
  if (text.length > maxFactTextLength)
    throw new AppError("INVALID_REQUEST", `${param} is longer than ${maxFactTextLength} characters`, {
      param,
    });
  return text;
}

function validateNewFact(input: NewFact, at = ""): ValidFact {
  const prefix = at === "" ? "" : `${at}.`;
  const userId = validateUserId(input.userId, `${prefix}user`);
  const subject = validateText(input.subject, `${prefix}subject`);
  const object = validateText(input.object, `${prefix}object`);
  const relationText = validateText(input.relation, `${prefix}relation`);
  const relation = normalizeRelation(relationText);
  if (relation === undefined)
    throw new AppError(
      "INVALID_REQUEST",
      `${prefix}relation must start with a letter and have at most 64 letters, digits or separators`,
      { param: `${prefix}relation` },
    );
  if (typeof input.confidence !== "number" || !(input.confidence >= 0 && input.confidence <= 1))
    throw new AppError("INVALID_REQUEST", `${prefix}confidence must be a number from 0 to 1`, {
      param: `${prefix}confidence`,
    });
  if (!factSources.includes(input.source))
    throw new AppError("INVALID_REQUEST", `${prefix}source must be one of ${factSources.join(", ")}`, {
      param: `${prefix}source`,
    });
  const when = input.when == null ? null : validateText(input.when, `${prefix}when`);
  const extractor = input.extractor ?? null;
  if (extractor !== null && !factExtractors.includes(extractor))
    throw new AppError("INVALID_REQUEST", `${prefix}extractor must be one of ${factExtractors.join(", ")}`, {
      param: `${prefix}extractor`,
    });
  return {
    userId,
    subject,
    subjectKey: subjectKey(subject),
    relation,
    object,
    objectKey: normalizeKey(object),
    negated: input.negated === true,
    confidence: input.confidence,
    source: input.source,
    extractor,
    messageId: input.messageId ?? null,
    when,
    pinned: input.pinned === true,
  };
}

/** Adds the subject / relation / object filters a query gives, matched on their keys. */
function addTripleFilters(
  query: { subject?: string; relation?: string; object?: string },
  where: string[],
  params: unknown[],
): void {
  if (query.subject !== undefined) {
    where.push("subject_key = ?");
    params.push(subjectKey(query.subject));
  }
  if (query.relation !== undefined) {
    where.push("relation = ?");
    params.push(normalizeRelation(query.relation) ?? query.relation);
  }
  if (query.object !== undefined) {
    where.push("object_key = ?");
    params.push(normalizeKey(query.object));
  }
}

/** Word n-grams (1..4) of the text as keys, most specific first, deduplicated and bounded. */
function textKeys(text: string): string[] {
  const words = normalizeKey(text)
    .split(/[^\p{L}\p{N}'’-]+/u)
    .filter((word) => word !== "");
  const keys = new Set<string>();
  for (let n = maxTextGram; n >= 1; n--) {
    for (let start = 0; start + n <= words.length; start++) {
      keys.add(words.slice(start, start + n).join(" "));
      if (keys.size >= maxTextKeys) return [...keys];
    }
  }
  return [...keys];
}

/**
 * The confidence of a fact stated again: the stronger of the two statements, raised by a share of the weaker
 * one's doubt-reduction (a noisy-OR at half strength), never above 0.99.
 */
export function reinforce(old: number, incoming: number): number {
  const strong = Math.max(old, incoming);
  return Math.min(maxConfidence, strong + (1 - strong) * Math.min(old, incoming) * 0.5);
}

function roundConfidence(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function toFact(row: FactRow): Fact {
  return {
    id: row.id,
    userId: row.user_id,
    subject: row.subject,
    relation: row.relation,
    object: row.object,
    negated: row.negated === 1,
    confidence: roundConfidence(row.confidence),
    source: row.source,
    extractor: row.extractor,
    messageId: row.message_id,
    when: row.when_text,
    mentions: row.mentions,
    pinned: row.pinned === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    validFrom: row.valid_from,
    validTo: row.valid_to,
    supersededBy: row.superseded_by,
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function prepareStatements(db: Database.Database) {
  const insertColumns =
    "user_id, subject, subject_key, relation, object, object_key, negated, confidence, source, extractor, message_id, when_text, pinned";
  const insertValues =
    "@user_id, @subject, @subject_key, @relation, @object, @object_key, @negated, @confidence, @source, @extractor, @message_id, @when_text, @pinned";
  return {
    findActive: db.prepare(
      `SELECT ${factColumns} FROM facts WHERE user_id = ? AND subject_key = ? AND relation = ? AND object_key = ? AND valid_to IS NULL`,
    ),
    findActiveValues: db.prepare(
      `SELECT ${factColumns}, object_key FROM facts WHERE user_id = ? AND subject_key = ? AND relation = ? AND valid_to IS NULL`,
    ),
    reinforce: db.prepare(
      "UPDATE facts SET confidence = ?, updated_at = ?, mentions = mentions + 1, when_text = COALESCE(?, when_text), pinned = MAX(pinned, ?), extractor = ? WHERE id = ?",
    ),
    setExtractor: db.prepare("UPDATE facts SET extractor = ? WHERE id = ?"),
    close: db.prepare("UPDATE facts SET valid_to = ?, updated_at = ? WHERE id = ?"),
    supersede: db.prepare("UPDATE facts SET superseded_by = ? WHERE id = ?"),
    insert: db.prepare(
      `INSERT INTO facts (${insertColumns}, mentions, created_at, updated_at, valid_from) VALUES (${insertValues}, 1, @now, @now, @now)`,
    ),
    // Only a uniqueness conflict can skip the row: the values were validated against every CHECK before.
    insertIfNew: db.prepare(
      `INSERT OR IGNORE INTO facts (${insertColumns}, mentions, created_at, updated_at, valid_from) VALUES (${insertValues}, 1, @now, @now, @now)`,
    ),
    insertHistoric: db.prepare(
      `INSERT INTO facts (${insertColumns}, mentions, created_at, updated_at, valid_from, valid_to) VALUES (${insertValues}, 1, @created_at, @now, @valid_from, @valid_to)`,
    ),
    getById: db.prepare(`SELECT ${factColumns} FROM facts WHERE id = ?`),
    getForUser: db.prepare(`SELECT ${factColumns} FROM facts WHERE id = ? AND user_id = ?`),
    listUser: db.prepare(`SELECT ${factColumns} FROM facts WHERE user_id = ? ORDER BY id`),
    deleteOne: db.prepare("DELETE FROM facts WHERE id = ? AND user_id = ?"),
    deleteUser: db.prepare("DELETE FROM facts WHERE user_id = ?"),
    pin: db.prepare("UPDATE facts SET pinned = ? WHERE id = ? AND user_id = ?"),
    // One sort of the table (a window), not a correlated subquery per row.
    deduplicate: db.prepare(
      `DELETE FROM facts WHERE id IN (
         SELECT id FROM (
           SELECT id, valid_to, ROW_NUMBER() OVER (
             PARTITION BY user_id, subject_key, relation, object_key, negated ORDER BY id DESC) AS newer
           FROM facts)
         WHERE newer > 1 AND valid_to IS NOT NULL)`,
    ),
    rotateAll: db.prepare("DELETE FROM facts WHERE pinned = 0 AND COALESCE(valid_to, updated_at) < ?"),
    rotateUser: db.prepare(
      "DELETE FROM facts WHERE pinned = 0 AND COALESCE(valid_to, updated_at) < ? AND user_id = ?",
    ),
    statsAll: db.prepare(
      "SELECT COUNT(*) AS facts, SUM(valid_to IS NULL) AS active, COUNT(DISTINCT user_id) AS users FROM facts",
    ),
    statsUser: db.prepare(
      "SELECT COUNT(*) AS facts, SUM(valid_to IS NULL) AS active, COUNT(DISTINCT user_id) AS users FROM facts WHERE user_id = ?",
    ),
  };
}
