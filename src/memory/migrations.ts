import type Database from "better-sqlite3";
import { AppError } from "../shared/index.js";

/**
 * Versioned schema migrations, applied in order inside one transaction each; `PRAGMA user_version` holds the
 * version reached. Never edit a shipped migration: add the next one.
 */
const migrations: readonly string[] = [
  // 1: facts with history (valid_from / valid_to / superseded_by) and normalised keys.
  `CREATE TABLE facts (
     id INTEGER PRIMARY KEY,
     user_id TEXT NOT NULL,
     subject TEXT NOT NULL,
     subject_key TEXT NOT NULL,
     relation TEXT NOT NULL,
     object TEXT NOT NULL,
     object_key TEXT NOT NULL,
     negated INTEGER NOT NULL DEFAULT 0 CHECK (negated IN (0, 1)),
     confidence REAL NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
     source TEXT NOT NULL CHECK (source IN ('user_input', 'assistant', 'skill', 'manual')),
     message_id TEXT,
     when_text TEXT,
     mentions INTEGER NOT NULL DEFAULT 1,
     pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     valid_from INTEGER NOT NULL,
     valid_to INTEGER,
     superseded_by INTEGER REFERENCES facts (id) ON DELETE SET NULL
   );
   CREATE UNIQUE INDEX facts_active_unique ON facts (user_id, subject_key, relation, object_key) WHERE valid_to IS NULL;
   CREATE INDEX facts_by_subject ON facts (user_id, subject_key);
   CREATE INDEX facts_by_object ON facts (user_id, object_key) WHERE valid_to IS NULL;
   CREATE INDEX facts_by_time ON facts (user_id, updated_at);
   CREATE INDEX facts_by_confidence ON facts (user_id, confidence DESC) WHERE valid_to IS NULL;
   CREATE INDEX facts_superseded_by ON facts (superseded_by) WHERE superseded_by IS NOT NULL;`,
  // 2: which extractor found each fact. Before it only the rules extracted (model extraction was off by
  // default); facts added by hand were not extracted at all and have none.
  `ALTER TABLE facts ADD COLUMN extractor TEXT CHECK (extractor IS NULL OR extractor IN ('rules', 'model', 'both'));
   UPDATE facts SET extractor = 'rules' WHERE source <> 'manual';
   -- The rules used to file "me mudé a" / "I moved to" as moved_to; it is lives_in now. An active row that would
   -- repeat an active lives_in row keeps its old name rather than break the unique index.
   UPDATE facts SET relation = 'lives_in' WHERE relation = 'moved_to' AND (valid_to IS NOT NULL OR NOT EXISTS (
     SELECT 1 FROM facts AS other WHERE other.user_id = facts.user_id AND other.subject_key = facts.subject_key
       AND other.relation = 'lives_in' AND other.object_key = facts.object_key AND other.valid_to IS NULL));`,
];

/** The schema version this SARAi writes. */
export const schemaVersion = migrations.length;

/** Brings the database to `schemaVersion`; refuses a database from a newer SARAi without touching it. */
export function migrate(db: Database.Database, file: string): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > schemaVersion)
    throw new AppError(
      "STORE_TOO_NEW",
      `${file} has schema version ${current}; this SARAi knows up to ${schemaVersion}. Upgrade SARAi.`,
      { param: file },
    );
  for (let version = current; version < schemaVersion; version++) {
    db.transaction(() => {
      db.exec(migrations[version] as string);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
