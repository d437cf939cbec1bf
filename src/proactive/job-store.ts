import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { AppError } from "../shared/index.js";

/**
 * The proactive loop's persisted state, in its own SQLite file (WAL) so that any number of loop processes
 * share it: one row per action occurrence (a cron slot, an event, a manual run), one row per attempt, the
 * users' last activity and the notifications feed. Times are epoch milliseconds of the loop's clock.
 *
 * Exactly-once per schedule slot comes from two SQLite guarantees: a cron slot is a row under a unique
 * (action, slot) key, inserted with `INSERT OR IGNORE` by whichever process gets there first, and a job is
 * claimed with one `UPDATE … RETURNING` that only matches pending rows (or running rows whose lease expired:
 * their process died), so two processes never both hold the same job.
 */

export type JobStatus = "pending" | "running" | "succeeded" | "failed" | "skipped";

/** One occurrence of an action: the action record of the issue (id, trigger, priority, args, …). */
export interface Job {
  id: number;
  action: string;
  /** `cron:<expression>`, `event:<name>` or `manual`. */
  trigger: string;
  /** Unique per action: `cron:<slot ms>` for schedule slots, a dedupe key or a unique key otherwise. */
  slot: string;
  /** 1–10; higher runs first. */
  priority: number;
  args: unknown;
  executeAt: number;
  status: JobStatus;
  attempts: number;
  lastError: string | null;
  leaseOwner: string | null;
  leaseUntil: number | null;
  createdAt: number;
  finishedAt: number | null;
  result: unknown;
}

/** One attempt at a job. */
export interface RunRecord {
  id: number;
  jobId: number;
  action: string;
  trigger: string;
  attempt: number;
  owner: string;
  startedAt: number;
  durationMs: number;
  outcome: "succeeded" | "failed" | "timeout";
  result: unknown;
  error: string | null;
}

export interface NewJob {
  action: string;
  trigger: string;
  slot: string;
  priority: number;
  args?: unknown;
  executeAt: number;
  createdAt: number;
}

export interface Notification {
  id: number;
  userId: string;
  kind: string;
  text: string;
  /** What the notification was made from (fact ids, the action). */
  data: unknown;
  createdAt: number;
}

const migrations: readonly string[] = [
  `CREATE TABLE jobs (
     id INTEGER PRIMARY KEY,
     action TEXT NOT NULL,
     trigger TEXT NOT NULL,
     slot TEXT NOT NULL,
     priority INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 10),
     args TEXT NOT NULL DEFAULT 'null',
     execute_at INTEGER NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped')),
     attempts INTEGER NOT NULL DEFAULT 0,
     last_error TEXT,
     lease_owner TEXT,
     lease_until INTEGER,
     created_at INTEGER NOT NULL,
     finished_at INTEGER,
     result TEXT
   );
   CREATE UNIQUE INDEX jobs_slot ON jobs (action, slot);
   CREATE INDEX jobs_due ON jobs (status, execute_at);
   CREATE INDEX jobs_by_action ON jobs (action, execute_at);
   CREATE TABLE runs (
     id INTEGER PRIMARY KEY,
     job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
     attempt INTEGER NOT NULL,
     owner TEXT NOT NULL,
     started_at INTEGER NOT NULL,
     duration_ms REAL NOT NULL,
     outcome TEXT NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'timeout')),
     result TEXT,
     error TEXT
   );
   CREATE INDEX runs_by_job ON runs (job_id);
   CREATE INDEX runs_by_time ON runs (started_at);
   CREATE TABLE loop_starts (
     id INTEGER PRIMARY KEY,
     owner TEXT NOT NULL,
     pid INTEGER NOT NULL,
     started_at INTEGER NOT NULL,
     heartbeat_at INTEGER NOT NULL
   );
   CREATE TABLE user_activity (
     user_id TEXT PRIMARY KEY,
     last_active_at INTEGER NOT NULL,
     last_suggestion_at INTEGER
   );
   CREATE TABLE notifications (
     id INTEGER PRIMARY KEY,
     user_id TEXT NOT NULL,
     kind TEXT NOT NULL,
     text TEXT NOT NULL,
     data TEXT NOT NULL DEFAULT 'null',
     created_at INTEGER NOT NULL
   );
   CREATE INDEX notifications_by_user ON notifications (user_id, id);
   CREATE INDEX notifications_by_time ON notifications (user_id, created_at);`,
];

interface JobRow {
  id: number;
  action: string;
  trigger: string;
  slot: string;
  priority: number;
  args: string;
  execute_at: number;
  status: JobStatus;
  attempts: number;
  last_error: string | null;
  lease_owner: string | null;
  lease_until: number | null;
  created_at: number;
  finished_at: number | null;
  result: string | null;
}

function toJob(row: JobRow): Job {
  return {
    id: row.id,
    action: row.action,
    trigger: row.trigger,
    slot: row.slot,
    priority: row.priority,
    args: JSON.parse(row.args) as unknown,
    executeAt: row.execute_at,
    status: row.status,
    attempts: row.attempts,
    lastError: row.last_error,
    leaseOwner: row.lease_owner,
    leaseUntil: row.lease_until,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
    result: row.result === null ? null : (JSON.parse(row.result) as unknown),
  };
}

export class JobStore {
  readonly #db: Database.Database;
  readonly file: string;

  private constructor(db: Database.Database, file: string) {
    this.#db = db;
    this.file = file;
  }

  /** Opens (creating it and its folder when missing) the loop database. */
  static open(options: { file: string; readonly?: boolean }): JobStore {
    const { file } = options;
    let db: Database.Database;
    try {
      if (options.readonly !== true) mkdirSync(path.dirname(file), { recursive: true });
      db = new Database(file, {
        readonly: options.readonly === true,
        fileMustExist: options.readonly === true,
      });
      // Two loop processes (and the server) use the same file: wait for another's transaction instead of
      // failing — set first, because switching to WAL takes a lock too.
      db.pragma("busy_timeout = 5000");
      if (options.readonly !== true) db.pragma("journal_mode = WAL");
      db.pragma("foreign_keys = ON");
    } catch (error) {
      throw new AppError("STORE_FAILED", `cannot open the loop database ${file}: ${messageOf(error)}`, {
        cause: error,
      });
    }
    const store = new JobStore(db, file);
    if (options.readonly !== true) store.#migrate();
    return store;
  }

  #migrate(): void {
    const version = this.#db.pragma("user_version", { simple: true }) as number;
    if (version > migrations.length) {
      throw new AppError(
        "STORE_TOO_NEW",
        `the loop database ${this.file} has schema version ${version}; this SARAi knows up to ${migrations.length}`,
      );
    }
    for (let next = version; next < migrations.length; next++) {
      this.#db
        .transaction(() => {
          this.#db.exec(migrations[next] as string);
          this.#db.pragma(`user_version = ${next + 1}`);
        })
        .immediate();
    }
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  /** Inserts a job unless the (action, slot) pair exists; returns it when this call created it. */
  insert(job: NewJob): Job | undefined {
    const row = this.#db
      .prepare<unknown[], JobRow>(
        `INSERT INTO jobs (action, trigger, slot, priority, args, execute_at, status, created_at)
         VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)
         ON CONFLICT (action, slot) DO NOTHING
         RETURNING *`,
      )
      .get(
        job.action,
        job.trigger,
        job.slot,
        job.priority,
        JSON.stringify(job.args ?? null),
        job.executeAt,
        job.createdAt,
      );
    return row === undefined ? undefined : toJob(row);
  }

  /** The latest `cron:` slot time recorded for an action, or undefined when none is. */
  lastCronSlot(action: string): number | undefined {
    const row = this.#db
      .prepare<[string], { at: number | null }>(
        `SELECT max(execute_at) AS at FROM jobs WHERE action = ? AND slot LIKE 'cron:%'`,
      )
      .get(action);
    return row?.at ?? undefined;
  }

  /**
   * Claims up to `limit` due jobs for `owner`: pending ones whose time has come, and running ones whose lease
   * expired (their process died). Highest priority first, then oldest. Atomic per job.
   */
  claimDue(now: number, owner: string, leaseMs: (job: Job) => number, limit: number): Job[] {
    const claimed: Job[] = [];
    const pick = this.#db.prepare<[number, number], JobRow>(
      `SELECT * FROM jobs
       WHERE (status = 'pending' AND execute_at <= ?) OR (status = 'running' AND lease_until < ?)
       ORDER BY priority DESC, execute_at ASC, id ASC
       LIMIT 1`,
    );
    const take = this.#db.prepare<[string, number, number, number, number], JobRow>(
      `UPDATE jobs SET status = 'running', lease_owner = ?, lease_until = ?, attempts = attempts + 1
       WHERE id = ? AND ((status = 'pending' AND execute_at <= ?) OR (status = 'running' AND lease_until < ?))
       RETURNING *`,
    );
    const claimOne = this.#db.transaction((): Job | undefined => {
      const row = pick.get(now, now);
      if (row === undefined) return undefined;
      const job = toJob(row);
      const taken = take.get(owner, now + leaseMs(job), job.id, now, now);
      return taken === undefined ? undefined : toJob(taken);
    });
    while (claimed.length < limit) {
      const job = claimOne.immediate();
      if (job === undefined) break;
      claimed.push(job);
    }
    return claimed;
  }

  /** Records an attempt and moves the job on: done, failed for good, or pending again at `retryAt`. */
  finish(
    job: Job,
    owner: string,
    run: {
      startedAt: number;
      durationMs: number;
      outcome: RunRecord["outcome"];
      result?: unknown;
      error?: string;
      retryAt?: number;
      finishedAt: number;
    },
  ): void {
    this.#db
      .transaction(() => {
        this.#db
          .prepare(
            `INSERT INTO runs (job_id, attempt, owner, started_at, duration_ms, outcome, result, error)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            job.id,
            job.attempts,
            owner,
            run.startedAt,
            run.durationMs,
            run.outcome,
            run.result === undefined ? null : JSON.stringify(run.result),
            run.error ?? null,
          );
        if (run.outcome === "succeeded") {
          this.#db
            .prepare(
              `UPDATE jobs SET status = 'succeeded', finished_at = ?, result = ?, last_error = NULL,
                 lease_owner = NULL, lease_until = NULL
               WHERE id = ? AND lease_owner = ?`,
            )
            .run(run.finishedAt, JSON.stringify(run.result ?? null), job.id, owner);
        } else if (run.retryAt !== undefined) {
          this.#db
            .prepare(
              `UPDATE jobs SET status = 'pending', execute_at = ?, last_error = ?, lease_owner = NULL, lease_until = NULL
               WHERE id = ? AND lease_owner = ?`,
            )
            .run(run.retryAt, run.error ?? null, job.id, owner);
        } else {
          this.#db
            .prepare(
              `UPDATE jobs SET status = 'failed', finished_at = ?, last_error = ?, lease_owner = NULL, lease_until = NULL
               WHERE id = ? AND lease_owner = ?`,
            )
            .run(run.finishedAt, run.error ?? null, job.id, owner);
        }
      })
      .immediate();
  }

  /** Marks pending jobs skipped (a catch-up policy that does not run missed slots). */
  skip(ids: readonly number[], reason: string, now: number): void {
    const stmt = this.#db.prepare(
      `UPDATE jobs SET status = 'skipped', last_error = ?, finished_at = ? WHERE id = ? AND status = 'pending'`,
    );
    this.#db.transaction(() => {
      for (const id of ids) stmt.run(reason, now, id);
    })();
  }

  get(id: number): Job | undefined {
    const row = this.#db.prepare<[number], JobRow>(`SELECT * FROM jobs WHERE id = ?`).get(id);
    return row === undefined ? undefined : toJob(row);
  }

  /** Jobs, newest first, optionally of one action or status. */
  jobs(query: { action?: string; status?: JobStatus; limit?: number } = {}): Job[] {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (query.action !== undefined) {
      where.push("action = ?");
      params.push(query.action);
    }
    if (query.status !== undefined) {
      where.push("status = ?");
      params.push(query.status);
    }
    params.push(query.limit ?? 100);
    return this.#db
      .prepare<(string | number)[], JobRow>(
        `SELECT * FROM jobs ${where.length === 0 ? "" : `WHERE ${where.join(" AND ")}`}
         ORDER BY execute_at DESC, id DESC LIMIT ?`,
      )
      .all(...params)
      .map(toJob);
  }

  /** Attempts, newest first. */
  runs(query: { action?: string; limit?: number; since?: number } = {}): RunRecord[] {
    const rows = this.#db
      .prepare<
        [string | null, string | null, number, number],
        {
          id: number;
          job_id: number;
          action: string;
          trigger: string;
          attempt: number;
          owner: string;
          started_at: number;
          duration_ms: number;
          outcome: RunRecord["outcome"];
          result: string | null;
          error: string | null;
        }
      >(
        `SELECT runs.*, jobs.action, jobs.trigger FROM runs JOIN jobs ON jobs.id = runs.job_id
         WHERE (? IS NULL OR jobs.action = ?) AND runs.started_at >= ?
         ORDER BY runs.started_at DESC, runs.id DESC LIMIT ?`,
      )
      .all(query.action ?? null, query.action ?? null, query.since ?? 0, query.limit ?? 100);
    return rows.map((row) => ({
      id: row.id,
      jobId: row.job_id,
      action: row.action,
      trigger: row.trigger,
      attempt: row.attempt,
      owner: row.owner,
      startedAt: row.started_at,
      durationMs: row.duration_ms,
      outcome: row.outcome,
      result: row.result === null ? null : (JSON.parse(row.result) as unknown),
      error: row.error,
    }));
  }

  /** The highest run id recorded (0 when none is): a cursor for `runsAfter`. */
  lastRunId(): number {
    return this.#db.prepare<[], { id: number | null }>(`SELECT max(id) AS id FROM runs`).get()?.id ?? 0;
  }

  /**
   * Attempts recorded after run `afterId`, oldest first, at most `limit`. Run ids only grow (writers are
   * serialised and runs are never deleted), so a cursor over them sees each run once, whichever process
   * recorded it.
   */
  runsAfter(afterId: number, limit = 10_000): Pick<RunRecord, "id" | "action" | "outcome" | "durationMs">[] {
    return this.#db
      .prepare<
        [number, number],
        { id: number; action: string; outcome: RunRecord["outcome"]; duration_ms: number }
      >(
        `SELECT runs.id, jobs.action, runs.outcome, runs.duration_ms FROM runs JOIN jobs ON jobs.id = runs.job_id
         WHERE runs.id > ? ORDER BY runs.id LIMIT ?`,
      )
      .all(afterId, limit)
      .map((row) => ({ id: row.id, action: row.action, outcome: row.outcome, durationMs: row.duration_ms }));
  }

  /** The next pending time per action. */
  nextRuns(): Map<string, number> {
    const rows = this.#db
      .prepare<[], { action: string; at: number }>(
        `SELECT action, min(execute_at) AS at FROM jobs WHERE status = 'pending' GROUP BY action`,
      )
      .all();
    return new Map(rows.map((row) => [row.action, row.at]));
  }

  /** Records that a loop process started; returns how many starts the database has seen in all. */
  recordStart(owner: string, pid: number, now: number): number {
    this.#db
      .prepare(`INSERT INTO loop_starts (owner, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?)`)
      .run(owner, pid, now, now);
    return this.startCount();
  }

  /** Loop starts the database has seen in all. */
  startCount(): number {
    return this.#db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM loop_starts`).get()?.n ?? 0;
  }

  heartbeat(owner: string, now: number): void {
    this.#db.prepare(`UPDATE loop_starts SET heartbeat_at = ? WHERE owner = ?`).run(now, owner);
  }

  /** Loop processes, newest first. */
  starts(limit = 20): { owner: string; pid: number; startedAt: number; heartbeatAt: number }[] {
    return this.#db
      .prepare<[number], { owner: string; pid: number; started_at: number; heartbeat_at: number }>(
        `SELECT owner, pid, started_at, heartbeat_at FROM loop_starts ORDER BY id DESC LIMIT ?`,
      )
      .all(limit)
      .map((row) => ({
        owner: row.owner,
        pid: row.pid,
        startedAt: row.started_at,
        heartbeatAt: row.heartbeat_at,
      }));
  }

  /** Records that a user did something (a chat turn); the idle check reads it. */
  touchUser(userId: string, now: number): void {
    this.#db
      .prepare(
        `INSERT INTO user_activity (user_id, last_active_at) VALUES (?, ?)
         ON CONFLICT (user_id) DO UPDATE SET last_active_at = max(last_active_at, excluded.last_active_at)`,
      )
      .run(userId, now);
  }

  activity(userId: string): { lastActiveAt: number; lastSuggestionAt: number | null } | undefined {
    const row = this.#db
      .prepare<[string], { last_active_at: number; last_suggestion_at: number | null }>(
        `SELECT last_active_at, last_suggestion_at FROM user_activity WHERE user_id = ?`,
      )
      .get(userId);
    return row === undefined
      ? undefined
      : { lastActiveAt: row.last_active_at, lastSuggestionAt: row.last_suggestion_at };
  }

  /**
   * Users idle since at least `idleSince` (but active after `activeAfter`) who got no suggestion since their
   * last activity.
   */
  idleUsers(idleSince: number, activeAfter: number): { userId: string; lastActiveAt: number }[] {
    return this.#db
      .prepare<[number, number], { user_id: string; last_active_at: number }>(
        `SELECT user_id, last_active_at FROM user_activity
         WHERE last_active_at <= ? AND last_active_at > ?
           AND (last_suggestion_at IS NULL OR last_suggestion_at < last_active_at)
         ORDER BY last_active_at`,
      )
      .all(idleSince, activeAfter)
      .map((row) => ({ userId: row.user_id, lastActiveAt: row.last_active_at }));
  }

  /**
   * Adds a notification unless the user became active after `idleSince` or already got `maxPerHour` in the
   * hour before `now` — checked in the same transaction as the insert, so a turn that lands meanwhile wins.
   */
  notifyIfIdle(
    notification: Omit<Notification, "id">,
    options: { idleSince: number; maxPerHour: number },
  ): { delivered: true; notification: Notification } | { delivered: false; reason: string } {
    return this.#db
      .transaction(
        (): { delivered: true; notification: Notification } | { delivered: false; reason: string } => {
          const activity = this.activity(notification.userId);
          if (activity !== undefined && activity.lastActiveAt > options.idleSince) {
            return { delivered: false, reason: "the user is active" };
          }
          const lastHour =
            this.#db
              .prepare<[string, number], { n: number }>(
                `SELECT count(*) AS n FROM notifications WHERE user_id = ? AND created_at > ?`,
              )
              .get(notification.userId, notification.createdAt - 3_600_000)?.n ?? 0;
          if (lastHour >= options.maxPerHour) {
            return { delivered: false, reason: `the user already got ${lastHour} in the last hour` };
          }
          const id = Number(
            this.#db
              .prepare(
                `INSERT INTO notifications (user_id, kind, text, data, created_at) VALUES (?, ?, ?, ?, ?)`,
              )
              .run(
                notification.userId,
                notification.kind,
                notification.text,
                JSON.stringify(notification.data ?? null),
                notification.createdAt,
              ).lastInsertRowid,
          );
          this.#db
            .prepare(`UPDATE user_activity SET last_suggestion_at = ? WHERE user_id = ?`)
            .run(notification.createdAt, notification.userId);
          return { delivered: true, notification: { ...notification, id } };
        },
      )
      .immediate();
  }

  /** Adds a notification whatever the user is doing (operational news for admins: repairs). */
  notify(notification: Omit<Notification, "id">): Notification {
    const { id } = this.#db
      .prepare<unknown[], { id: number }>(
        `INSERT INTO notifications (user_id, kind, text, data, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
      )
      .get(
        notification.userId,
        notification.kind,
        notification.text,
        JSON.stringify(notification.data ?? null),
        notification.createdAt,
      ) as { id: number };
    return { ...notification, id };
  }

  /** A user's notifications after `afterId`, oldest first. */
  notifications(userId: string, afterId = 0, limit = 100): Notification[] {
    return this.#db
      .prepare<
        [string, number, number],
        { id: number; user_id: string; kind: string; text: string; data: string; created_at: number }
      >(`SELECT * FROM notifications WHERE user_id = ? AND id > ? ORDER BY id LIMIT ?`)
      .all(userId, afterId, limit)
      .map((row) => ({
        id: row.id,
        userId: row.user_id,
        kind: row.kind,
        text: row.text,
        data: JSON.parse(row.data) as unknown,
        createdAt: row.created_at,
      }));
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
