import { randomUUID } from "node:crypto";
import type Database from "better-sqlite3";
import { openSqliteStore } from "../shared/index.js";

export type MessageRole = "user" | "assistant" | "system";

/** The roles a stored message may have. */
export const messageRoles: readonly MessageRole[] = ["user", "assistant", "system"];

/** What the UI keeps beside a message: facts recalled and stored, the reflection, model, response id, feedback. */
export type MessageMeta = Record<string, unknown>;

export interface Conversation {
  /** A UUID. */
  id: string;
  userId: string;
  title: string;
  /** Unix ms. */
  createdAt: number;
  /** Unix ms: the last rename or message added or removed. */
  updatedAt: number;
  messageCount: number;
}

export interface ConversationMessage {
  id: number;
  conversationId: string;
  role: MessageRole;
  content: string;
  meta: MessageMeta | null;
  /** Unix ms. */
  createdAt: number;
}

export interface ConversationWithMessages extends Conversation {
  /** Oldest first. */
  messages: ConversationMessage[];
}

export interface NewMessage {
  role: MessageRole;
  content: string;
  meta?: MessageMeta | undefined;
}

export interface ListConversationsOptions {
  /** Only conversations whose title or any message contains this text (case-insensitive for ASCII). */
  q?: string | undefined;
  /** Default: `50`. */
  limit?: number | undefined;
}

/** The title a conversation gets when none is given. */
export const defaultConversationTitle = "New conversation";

interface ConversationRow {
  id: string;
  user_id: string;
  title: string;
  created_at: number;
  updated_at: number;
  message_count: number;
}

interface MessageRow {
  id: number;
  conversation_id: string;
  role: MessageRole;
  content: string;
  meta: string | null;
  created_at: number;
}

const toConversation = (row: ConversationRow): Conversation => ({
  id: row.id,
  userId: row.user_id,
  title: row.title,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  messageCount: row.message_count,
});

const toMessage = (row: MessageRow): ConversationMessage => ({
  id: row.id,
  conversationId: row.conversation_id,
  role: row.role,
  content: row.content,
  meta: row.meta === null ? null : (JSON.parse(row.meta) as MessageMeta),
  createdAt: row.created_at,
});

/** `text` as a LIKE pattern that matches it literally anywhere: `%`, `_` and the escape itself are escaped. */
export function toContainsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}

const selectConversation = `SELECT c.id, c.user_id, c.title, c.created_at, c.updated_at,
  (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count
  FROM conversations c`;

/**
 * The web UI's conversations and their messages, per user, in SQLite (WAL). Every method takes the user: a
 * conversation of another user is not found, exactly as one that does not exist.
 */
export class ConversationStore {
  readonly #db: Database.Database;
  readonly #now: () => number;
  #closed = false;

  private constructor(db: Database.Database, now: () => number) {
    this.#db = db;
    this.#now = now;
    db.exec(`CREATE TABLE IF NOT EXISTS conversations (
      id TEXT PRIMARY KEY,
      user_id TEXT NOT NULL,
      title TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS conversations_user ON conversations (user_id, updated_at);
    CREATE TABLE IF NOT EXISTS messages (
      id INTEGER PRIMARY KEY,
      conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
      role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
      content TEXT NOT NULL,
      meta TEXT,
      created_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS messages_conversation ON messages (conversation_id, id);`);
  }

  static open(options: { file: string; now?: () => number }): ConversationStore {
    return openSqliteStore(options.file, "conversation database", (db) => {
      // Per connection, and off by default in SQLite: without it deleting a conversation would orphan its messages.
      db.pragma("foreign_keys = ON");
      return new ConversationStore(db, options.now ?? Date.now);
    });
  }

  /** The user's conversations, most recently updated first, each with its message count. */
  list(userId: string, options: ListConversationsOptions = {}): Conversation[] {
    const limit = options.limit ?? 50;
    if (options.q === undefined || options.q === "") {
      return this.#db
        .prepare<unknown[], ConversationRow>(
          `${selectConversation} WHERE c.user_id = ? ORDER BY c.updated_at DESC, c.rowid DESC LIMIT ?`,
        )
        .all(userId, limit)
        .map(toConversation);
    }
    const pattern = toContainsPattern(options.q);
    return this.#db
      .prepare<unknown[], ConversationRow>(
        `${selectConversation} WHERE c.user_id = ? AND (c.title LIKE ? ESCAPE '\\' OR EXISTS (
           SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.content LIKE ? ESCAPE '\\'))
         ORDER BY c.updated_at DESC, c.rowid DESC LIMIT ?`,
      )
      .all(userId, pattern, pattern, limit)
      .map(toConversation);
  }

  /** Starts a conversation; the title defaults to `defaultConversationTitle`. */
  create(userId: string, options: { title?: string | undefined } = {}): Conversation {
    const now = this.#now();
    const id = randomUUID();
    this.#db
      .prepare(
        "INSERT INTO conversations (id, user_id, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
      )
      .run(id, userId, options.title ?? defaultConversationTitle, now, now);
    return {
      id,
      userId,
      title: options.title ?? defaultConversationTitle,
      createdAt: now,
      updatedAt: now,
      messageCount: 0,
    };
  }

  /** One of the user's conversations with its messages, oldest first; undefined when the user has no such one. */
  get(userId: string, id: string): ConversationWithMessages | undefined {
    const conversation = this.#find(userId, id);
    if (conversation === undefined) return undefined;
    const messages = this.#db
      .prepare<unknown[], MessageRow>("SELECT * FROM messages WHERE conversation_id = ? ORDER BY id")
      .all(id)
      .map(toMessage);
    return { ...conversation, messages };
  }

  /** Renames one of the user's conversations; undefined when the user has no such one. */
  rename(userId: string, id: string, title: string): Conversation | undefined {
    const changed = this.#db
      .prepare("UPDATE conversations SET title = ?, updated_at = ? WHERE user_id = ? AND id = ?")
      .run(title, this.#now(), userId, id).changes;
    return changed === 0 ? undefined : this.#find(userId, id);
  }

  /** Deletes one of the user's conversations and its messages; false when the user has no such one. */
  delete(userId: string, id: string): boolean {
    return (
      this.#db.prepare("DELETE FROM conversations WHERE user_id = ? AND id = ?").run(userId, id).changes > 0
    );
  }

  /** Adds a message at the end of one of the user's conversations; undefined when the user has no such one. */
  appendMessage(
    userId: string,
    conversationId: string,
    message: NewMessage,
  ): ConversationMessage | undefined {
    const now = this.#now();
    return this.#db.transaction(() => {
      const touched = this.#db
        .prepare("UPDATE conversations SET updated_at = ? WHERE user_id = ? AND id = ?")
        .run(now, userId, conversationId).changes;
      if (touched === 0) return undefined;
      const row = this.#db
        .prepare<unknown[], MessageRow>(
          "INSERT INTO messages (conversation_id, role, content, meta, created_at) VALUES (?, ?, ?, ?, ?) RETURNING *",
        )
        .get(
          conversationId,
          message.role,
          message.content,
          message.meta === undefined ? null : JSON.stringify(message.meta),
          now,
        ) as MessageRow;
      return toMessage(row);
    })();
  }

  /**
   * Deletes a message and every later one of its conversation (editing and resending a message, regenerating an
   * answer); the number deleted, or undefined when the user has no such conversation or it has no such message.
   */
  truncateFrom(userId: string, conversationId: string, messageId: number): number | undefined {
    return this.#db.transaction(() => {
      if (this.#find(userId, conversationId) === undefined) return undefined;
      const found = this.#db
        .prepare("SELECT 1 FROM messages WHERE conversation_id = ? AND id = ?")
        .get(conversationId, messageId);
      if (found === undefined) return undefined;
      const deleted = this.#db
        .prepare("DELETE FROM messages WHERE conversation_id = ? AND id >= ?")
        .run(conversationId, messageId).changes;
      this.#db
        .prepare("UPDATE conversations SET updated_at = ? WHERE id = ?")
        .run(this.#now(), conversationId);
      return deleted;
    })();
  }

  /** Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  #find(userId: string, id: string): Conversation | undefined {
    const row = this.#db
      .prepare<unknown[], ConversationRow>(`${selectConversation} WHERE c.user_id = ? AND c.id = ?`)
      .get(userId, id);
    return row === undefined ? undefined : toConversation(row);
  }
}
