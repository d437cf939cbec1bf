import type Database from "better-sqlite3";
import { openSqliteStore, parseJsonOrUndefined } from "../shared/index.js";

export type Rating = "up" | "down";

export const chatRoles = ["system", "user", "assistant"] as const;
export type ChatRole = (typeof chatRoles)[number];

/** One message of the conversation that led to a rated answer. */
export interface ChatTurn {
  role: ChatRole;
  content: string;
}

export interface NewFeedback {
  userId: string;
  rating: Rating;
  /** What the user asked (the last user message of the turn). */
  prompt: string;
  /** The answer being rated. */
  answer: string;
  /** The answer the user would have wanted, when they wrote one. */
  correction?: string | undefined;
  comment?: string | undefined;
  /** The completion's id (`chatcmpl-…`), when the client kept it. */
  responseId?: string | undefined;
  model?: string | undefined;
  /** The conversation before `prompt` (system, earlier turns), oldest first; `prompt` itself is not repeated. */
  messages?: readonly ChatTurn[] | undefined;
  /** The web UI's conversation the answer belongs to. */
  conversationId?: string | undefined;
  /** The LoRA adapter active when the answer was produced; none for the base model. */
  adapter?: string | undefined;
}

export interface Feedback extends Required<Pick<NewFeedback, "userId" | "rating" | "prompt" | "answer">> {
  id: number;
  correction: string | null;
  comment: string | null;
  responseId: string | null;
  model: string | null;
  /** Null when the client sent none (and for rows stored before the column existed). */
  messages: ChatTurn[] | null;
  conversationId: string | null;
  adapter: string | null;
  /** Unix ms. */
  createdAt: number;
}

interface Row {
  id: number;
  user_id: string;
  rating: Rating;
  prompt: string;
  answer: string;
  correction: string | null;
  comment: string | null;
  response_id: string | null;
  model: string | null;
  messages: string | null;
  conversation_id: string | null;
  adapter: string | null;
  created_at: number;
}

/** Columns added after the first release, with their types: added in place to an older database. */
const addedColumns: readonly (readonly [name: string, type: string])[] = [
  ["messages", "TEXT"],
  ["conversation_id", "TEXT"],
  ["adapter", "TEXT"],
];

const isChatTurn = (value: unknown): value is ChatTurn =>
  typeof value === "object" &&
  value !== null &&
  (chatRoles as readonly unknown[]).includes((value as { role?: unknown }).role) &&
  typeof (value as { content?: unknown }).content === "string";

/** The stored JSON as turns; null when absent, and when it is not an array of turns (written by hand). */
function parseMessages(text: string | null): ChatTurn[] | null {
  if (text === null) return null;
  const value = parseJsonOrUndefined(text);
  if (!Array.isArray(value) || !value.every(isChatTurn)) return null;
  return value.map((turn) => ({ role: turn.role, content: turn.content }));
}

const toFeedback = (row: Row): Feedback => ({
  id: row.id,
  userId: row.user_id,
  rating: row.rating,
  prompt: row.prompt,
  answer: row.answer,
  correction: row.correction,
  comment: row.comment,
  responseId: row.response_id,
  model: row.model,
  messages: parseMessages(row.messages),
  conversationId: row.conversation_id,
  adapter: row.adapter,
  createdAt: row.created_at,
});

/**
 * Thumbs up or down on answers, with an optional correction, per user, in SQLite (WAL): what the learning loop
 * trains and evaluates on. Rating the same response again replaces the earlier rating. Each rating can carry what
 * produced the answer: the conversation before it and the LoRA adapter then active.
 */
export class FeedbackStore {
  readonly #db: Database.Database;
  readonly #now: () => number;
  #closed = false;

  private constructor(db: Database.Database, now: () => number) {
    this.#db = db;
    this.#now = now;
    // IMMEDIATE: a server and a CLI opening an old file at once must not both add the same column.
    db.transaction(() => {
      db.exec(`CREATE TABLE IF NOT EXISTS feedback (
        id INTEGER PRIMARY KEY,
        user_id TEXT NOT NULL,
        rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
        prompt TEXT NOT NULL,
        answer TEXT NOT NULL,
        correction TEXT,
        comment TEXT,
        response_id TEXT,
        model TEXT,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS feedback_user ON feedback (user_id, id);
      CREATE UNIQUE INDEX IF NOT EXISTS feedback_response ON feedback (user_id, response_id) WHERE response_id IS NOT NULL;`);
      const present = new Set(
        (db.pragma("table_info(feedback)") as { name: string }[]).map((column) => column.name),
      );
      for (const [name, type] of addedColumns) {
        if (!present.has(name)) db.exec(`ALTER TABLE feedback ADD COLUMN ${name} ${type}`);
      }
    }).immediate();
  }

  static open(options: { file: string; now?: () => number }): FeedbackStore {
    return openSqliteStore(
      options.file,
      "feedback database",
      (db) => new FeedbackStore(db, options.now ?? Date.now),
    );
  }

  /** Stores a rating; one per (user, response id), the latest wins. */
  add(input: NewFeedback): Feedback {
    const row = this.#db
      .prepare<unknown[], Row>(
        `INSERT INTO feedback (user_id, rating, prompt, answer, correction, comment, response_id, model,
           messages, conversation_id, adapter, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (user_id, response_id) WHERE response_id IS NOT NULL DO UPDATE SET
           rating = excluded.rating, prompt = excluded.prompt, answer = excluded.answer,
           correction = excluded.correction, comment = excluded.comment, model = excluded.model,
           messages = excluded.messages, conversation_id = excluded.conversation_id, adapter = excluded.adapter,
           created_at = excluded.created_at
         RETURNING *`,
      )
      .get(
        input.userId,
        input.rating,
        input.prompt,
        input.answer,
        input.correction ?? null,
        input.comment ?? null,
        input.responseId ?? null,
        input.model ?? null,
        input.messages === undefined
          ? null
          : JSON.stringify(input.messages.map((turn) => ({ role: turn.role, content: turn.content }))),
        input.conversationId ?? null,
        input.adapter ?? null,
        this.#now(),
      ) as Row;
    return toFeedback(row);
  }

  /** A user's feedback, newest first; `rating` filters. */
  list(userId: string, options: { limit?: number; rating?: Rating } = {}): Feedback[] {
    const rows = this.#db
      .prepare<unknown[], Row>(
        `SELECT * FROM feedback WHERE user_id = ? AND (? IS NULL OR rating = ?) ORDER BY id DESC LIMIT ?`,
      )
      .all(userId, options.rating ?? null, options.rating ?? null, options.limit ?? 100);
    return rows.map(toFeedback);
  }

  /**
   * Every user's feedback after `afterId`, oldest first: what a training job reads. `userId` keeps one user's.
   * A rating given again keeps its id, so a job that remembers the last id it read misses the change.
   */
  since(afterId: number, limit = 10_000, options: { userId?: string } = {}): Feedback[] {
    return this.#db
      .prepare<unknown[], Row>(
        "SELECT * FROM feedback WHERE id > ? AND (? IS NULL OR user_id = ?) ORDER BY id LIMIT ?",
      )
      .all(afterId, options.userId ?? null, options.userId ?? null, limit)
      .map(toFeedback);
  }

  /** How many ratings there are after `afterId` (default: all), of every user or of `userId`'s. */
  /** The highest rating id there is (any user), 0 when there is none: where the next run counts from. */
  lastId(): number {
    const row = this.#db.prepare<[], { id: number | null }>("SELECT max(id) AS id FROM feedback").get();
    return row?.id ?? 0;
  }

  count(afterId = 0, options: { userId?: string } = {}): number {
    const row = this.#db
      .prepare<unknown[], { n: number }>(
        "SELECT count(*) AS n FROM feedback WHERE id > ? AND (? IS NULL OR user_id = ?)",
      )
      .get(afterId, options.userId ?? null, options.userId ?? null);
    return row?.n ?? 0;
  }

  /** Deletes one of the user's ratings; false when there was none. */
  delete(userId: string, id: number): boolean {
    return this.#db.prepare("DELETE FROM feedback WHERE user_id = ? AND id = ?").run(userId, id).changes > 0;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}
