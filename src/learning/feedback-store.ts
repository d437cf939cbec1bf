import type Database from "better-sqlite3";
import { openSqliteStore } from "../shared/index.js";

export type Rating = "up" | "down";

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
}

export interface Feedback extends Required<Pick<NewFeedback, "userId" | "rating" | "prompt" | "answer">> {
  id: number;
  correction: string | null;
  comment: string | null;
  responseId: string | null;
  model: string | null;
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
  created_at: number;
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
  createdAt: row.created_at,
});

/**
 * Thumbs up or down on answers, with an optional correction, per user, in SQLite (WAL): what the learning loop
 * trains and evaluates on. Rating the same response again replaces the earlier rating.
 */
export class FeedbackStore {
  readonly #db: Database.Database;
  readonly #now: () => number;
  #closed = false;

  private constructor(db: Database.Database, now: () => number) {
    this.#db = db;
    this.#now = now;
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
        `INSERT INTO feedback (user_id, rating, prompt, answer, correction, comment, response_id, model, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (user_id, response_id) WHERE response_id IS NOT NULL DO UPDATE SET
           rating = excluded.rating, prompt = excluded.prompt, answer = excluded.answer,
           correction = excluded.correction, comment = excluded.comment, model = excluded.model,
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

  /** Every user's feedback after `afterId`, oldest first: what a training job reads. */
  since(afterId: number, limit = 10_000): Feedback[] {
    return this.#db
      .prepare<unknown[], Row>("SELECT * FROM feedback WHERE id > ? ORDER BY id LIMIT ?")
      .all(afterId, limit)
      .map(toFeedback);
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
