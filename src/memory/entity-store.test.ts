import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AppError } from "../shared/index.js";
import { EntityStore, type NewFact } from "./entity-store.js";
import { schemaVersion } from "./migrations.js";

let dir: string;
let clock: number;
let store: EntityStore;

function fact(overrides: Partial<NewFact> = {}): NewFact {
  return {
    userId: "alice",
    subject: "Lucía",
    relation: "lives_in",
    object: "Madrid",
    confidence: 0.9,
    source: "user_input",
    ...overrides,
  };
}

function rowCount(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare("SELECT COUNT(*) AS n FROM facts").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "sarai-store-"));
  clock = Date.UTC(2026, 0, 1);
  store = EntityStore.open({ file: path.join(dir, "state", "sarai.db"), now: () => clock });
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("memory", () => {
  describe("EntityStore", () => {
    it("creates the file in WAL mode at the current schema version", () => {
      const db = new Database(store.file, { readonly: true });
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
      expect(db.pragma("user_version", { simple: true })).toBe(schemaVersion);
      db.close();
    });

    it("refuses a database from a newer SARAi without changing it", () => {
      store.close();
      const db = new Database(store.file);
      db.pragma(`user_version = ${schemaVersion + 5}`);
      db.close();
      expect(() => EntityStore.open({ file: store.file })).toThrow(
        new RegExp(`schema version ${schemaVersion + 5}.*Upgrade SARAi`),
      );
      const check = new Database(store.file, { readonly: true });
      expect(check.pragma("user_version", { simple: true })).toBe(schemaVersion + 5);
      check.close();
      store = EntityStore.open({ file: ":memory:" });
    });

    it("migrates a version 1 database: rows kept, extracted ones marked rules, moved_to filed as lives_in", () => {
      store.close();
      const file = path.join(dir, "v1.db");
      const db = new Database(file);
      db.exec(`CREATE TABLE facts (
        id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, subject TEXT NOT NULL, subject_key TEXT NOT NULL,
        relation TEXT NOT NULL, object TEXT NOT NULL, object_key TEXT NOT NULL,
        negated INTEGER NOT NULL DEFAULT 0 CHECK (negated IN (0, 1)),
        confidence REAL NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
        source TEXT NOT NULL CHECK (source IN ('user_input', 'assistant', 'skill', 'manual')),
        message_id TEXT, when_text TEXT, mentions INTEGER NOT NULL DEFAULT 1,
        pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)), created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL, valid_from INTEGER NOT NULL, valid_to INTEGER,
        superseded_by INTEGER REFERENCES facts (id) ON DELETE SET NULL);
        CREATE UNIQUE INDEX facts_active_unique ON facts (user_id, subject_key, relation, object_key) WHERE valid_to IS NULL;`);
      const insert = db.prepare(
        "INSERT INTO facts (user_id, subject, subject_key, relation, object, object_key, confidence, source, created_at, updated_at, valid_from, valid_to) VALUES (?, ?, ?, ?, ?, ?, 0.9, ?, 1, 1, 1, ?)",
      );
      insert.run("alice", "usuario", "@user", "lives_in", "Madrid", "madrid", "user_input", 5);
      insert.run("alice", "usuario", "@user", "moved_to", "Sevilla", "sevilla", "user_input", null);
      insert.run("alice", "Ana", "ana", "likes", "jazz", "jazz", "manual", null);
      // An active moved_to that repeats an active lives_in keeps its name: the unique index must hold.
      insert.run("bob", "user", "@user", "lives_in", "Porto", "porto", "user_input", null);
      insert.run("bob", "user", "@user", "moved_to", "Porto", "porto", "assistant", null);
      db.pragma("user_version = 1");
      db.close();
      store = EntityStore.open({ file });
      const alice = store.list("alice").map((f) => [f.relation, f.object, f.extractor, f.validTo]);
      expect(alice).toEqual([
        ["lives_in", "Madrid", "rules", 5],
        ["lives_in", "Sevilla", "rules", null],
        ["likes", "jazz", null, null],
      ]);
      expect(store.list("bob").map((f) => f.relation)).toEqual(["lives_in", "moved_to"]);
      expect(rowCount(file)).toBe(5);
    });

    it("keeps which extractor found a fact, and marks it both when another extractor finds it too", () => {
      const first = store.remember(fact({ extractor: "rules" }));
      expect(first.fact.extractor).toBe("rules");
      const again = store.remember(fact({ extractor: "model", confidence: 0.7 }));
      expect([again.outcome, again.fact.extractor, again.fact.mentions]).toEqual(["reinforced", "both", 2]);
      const modelOnly = store.remember(fact({ relation: "works_at", object: "Repsol", extractor: "model" }));
      expect(modelOnly.fact.extractor).toBe("model");
      expect(
        store.remember(fact({ relation: "works_at", object: "Repsol", extractor: "model" })).fact.extractor,
      ).toBe("model");
      const manual = store.remember(fact({ relation: "likes", object: "jazz", source: "manual" }));
      expect(manual.fact.extractor).toBeNull();
      expect(() => store.remember(fact({ extractor: "guess" as never }))).toThrow(/extractor must be one of/);
    });

    it("records a second extractor without counting a new mention", () => {
      const stored = store.remember(fact({ subject: "usuario", extractor: "rules" })).fact;
      const confirmed = store.recordExtractor(
        { userId: "alice", subject: "user", relation: "resides_in", object: "MADRID", negated: false },
        "model",
      );
      expect(confirmed).toMatchObject({
        id: stored.id,
        extractor: "both",
        mentions: 1,
        confidence: stored.confidence,
      });
      expect(
        store.recordExtractor(
          { userId: "alice", subject: "user", relation: "lives_in", object: "Madrid", negated: true },
          "model",
        ),
      ).toBeUndefined();
      expect(store.get("alice", stored.id)?.extractor).toBe("both");
    });

    it("keeps facts across a reopen", () => {
      store.remember(fact());
      store.close();
      store = EntityStore.open({ file: store.file });
      expect(store.recall({ userId: "alice", subject: "lucia" }).map((f) => f.object)).toEqual(["Madrid"]);
    });

    describe("remember", () => {
      it("reinforces the same fact instead of adding a row, with a bounded confidence", () => {
        const first = store.remember(fact({ confidence: 0.7 }));
        expect(first.outcome).toBe("inserted");
        clock += 1000;
        const second = store.remember(fact({ subject: "  lucia ", object: "MADRID", confidence: 0.9 }));
        expect(second.outcome).toBe("reinforced");
        expect(second.fact.id).toBe(first.fact.id);
        expect(second.fact.confidence).toBeGreaterThan(0.9);
        expect(second.fact.mentions).toBe(2);
        expect(second.fact.updatedAt).toBe(clock);
        for (let i = 0; i < 50; i++) store.remember(fact());
        const [only] = store.recall({ userId: "alice", subject: "Lucía" });
        expect(only?.confidence).toBe(0.99);
        expect(only?.mentions).toBe(52);
        expect(rowCount(store.file)).toBe(1);
      });

      it("closes a fact that a negation contradicts and keeps it as history", () => {
        const old = store.remember(fact({ subject: "usuario", relation: "likes", object: "café" })).fact;
        clock += 5000;
        const denial = store.remember(
          fact({ subject: "user", relation: "likes", object: "cafe", negated: true }),
        );
        expect(denial.outcome).toBe("inserted");
        expect(denial.closed).toEqual([old.id]);
        const active = store.recall({ userId: "alice", subject: "usuario" });
        expect(active).toHaveLength(1);
        expect(active[0]).toMatchObject({ object: "cafe", negated: true, validTo: null });
        const history = store.recall({ userId: "alice", subject: "usuario", includeHistory: true });
        expect(history).toHaveLength(2);
        expect(history[1]).toMatchObject({
          id: old.id,
          negated: false,
          validTo: clock,
          supersededBy: denial.fact.id,
        });
      });

      it("replaces the object of a single-valued relation and keeps the old one as history", () => {
        const madrid = store.remember(fact()).fact;
        clock += 1;
        const seville = store.remember(fact({ object: "Sevilla" }));
        expect(seville.closed).toEqual([madrid.id]);
        expect(store.recall({ userId: "alice", subject: "Lucía" }).map((f) => f.object)).toEqual(["Sevilla"]);
        expect(
          store.recall({ userId: "alice", subject: "Lucía", includeHistory: true }).map((f) => f.object),
        ).toEqual(["Sevilla", "Madrid"]);
      });

      it("adds objects of a multi-valued relation side by side", () => {
        store.remember(fact({ relation: "likes", object: "té" }));
        store.remember(fact({ relation: "likes", object: "café" }));
        expect(store.recall({ userId: "alice", relation: "likes" })).toHaveLength(2);
      });

      it("never lets an assistant-sourced fact overrule what the user said", () => {
        const said = store.remember(fact()).fact;
        const guess = store.remember(fact({ object: "Roma", source: "assistant", confidence: 0.7 }));
        expect(guess.outcome).toBe("kept_existing");
        expect(guess.fact.id).toBe(said.id);
        expect(store.recall({ userId: "alice", subject: "Lucía" }).map((f) => f.object)).toEqual(["Madrid"]);
      });

      it("stores control characters and SQL metacharacters literally", () => {
        const nasty = 'Robert\'); DROP TABLE facts;--\u0000\u0007 "x" %_\\';
        const stored = store.remember(fact({ subject: nasty, object: "O'Brien; DELETE FROM facts" })).fact;
        expect(stored.subject).toBe(nasty);
        expect(store.recall({ userId: "alice", subject: nasty })[0]?.object).toBe(
          "O'Brien; DELETE FROM facts",
        );
        expect(rowCount(store.file)).toBe(1);
      });

      it("rejects bad facts naming the field, and a bad batch stores nothing", () => {
        const cases: [Partial<NewFact>, string][] = [
          [{ subject: "  " }, "subject"],
          [{ object: "x".repeat(301) }, "object"],
          [{ relation: "!!!" }, "relation"],
          [{ confidence: 1.5 }, "confidence"],
          [{ confidence: Number.NaN }, "confidence"],
          [{ source: "web" as NewFact["source"] }, "source"],
          [{ userId: "" }, "user"],
        ];
        for (const [overrides, param] of cases) {
          const error = (() => {
            try {
              store.remember(fact(overrides));
            } catch (caught) {
              return caught;
            }
            return undefined;
          })();
          expect(error, param).toBeInstanceOf(AppError);
          expect((error as AppError).param).toBe(param);
        }
        expect(() => store.rememberMany([fact(), fact({ object: "Roma", confidence: -1 })])).toThrow(
          /facts\[1\]\.confidence/,
        );
        expect(rowCount(store.file)).toBe(0);
      });

      it("normalises relation spellings", () => {
        store.remember(fact({ relation: "Lives In" }));
        expect(store.recall({ userId: "alice", relation: "lives-in" })[0]?.relation).toBe("lives_in");
      });
    });

    describe("recall", () => {
      beforeEach(() => {
        store.rememberMany([
          fact(),
          fact({ subject: "Lucía", relation: "sister_of", object: "usuario", confidence: 0.6 }),
          fact({ subject: "José Luis", relation: "works_at", object: "Banco Santander" }),
          fact({ subject: "user", relation: "sister", object: "Lucía" }),
          fact({ subject: "Marta", relation: "lives_in", object: "Sevilla" }),
        ]);
      });

      it("finds facts about the entities named in free text, accents and case folded", () => {
        const found = store.recall({ userId: "alice", text: "¿Dónde trabaja jose luis? ¿y LUCIA?" });
        expect(found.map((f) => `${f.subject}|${f.object}`).sort()).toEqual([
          "José Luis|Banco Santander",
          "Lucía|Madrid",
          "Lucía|usuario",
          "user|Lucía",
        ]);
      });

      it("matches objects by multiword keys", () => {
        expect(store.recall({ userId: "alice", text: "banco santander" }).map((f) => f.subject)).toEqual([
          "José Luis",
        ]);
        expect(store.recall({ userId: "alice", text: "santander" })).toEqual([]);
      });

      it("orders by confidence and honours limit and minConfidence", () => {
        const lucia = store.recall({ userId: "alice", subject: "lucía" });
        expect(lucia.map((f) => f.confidence)).toEqual([0.9, 0.6]);
        expect(store.recall({ userId: "alice", subject: "lucía", limit: 1 })).toHaveLength(1);
        expect(store.recall({ userId: "alice", subject: "lucía", minConfidence: 0.7 })).toHaveLength(1);
      });

      it("treats user and usuario as one speaker", () => {
        expect(store.recall({ userId: "alice", subject: "usuario" }).map((f) => f.object)).toEqual(["Lucía"]);
      });
    });

    describe("isolation", () => {
      it("never shows, changes or deletes another user's facts", () => {
        const mine = store.remember(fact({ userId: "bob", object: "Bilbao" })).fact;
        store.remember(fact());
        expect(store.recall({ userId: "alice", subject: "Lucía" }).map((f) => f.object)).toEqual(["Madrid"]);
        expect(store.get("alice", mine.id)).toBeUndefined();
        expect(store.forget({ userId: "alice", id: mine.id })).toBe(0);
        expect(store.forget({ userId: "alice", subject: "Lucía" })).toBe(1);
        expect(store.pin("alice", mine.id, true)).toBeUndefined();
        expect(store.list("alice")).toEqual([]);
        expect(store.get("bob", mine.id)).toMatchObject({ object: "Bilbao", pinned: false });
        expect(store.stats("bob").facts).toBe(1);
      });
    });

    describe("forget", () => {
      it("deletes by id or by filter, history included, and nothing without a filter", () => {
        store.remember(fact());
        store.remember(fact({ object: "Sevilla" }));
        store.remember(fact({ subject: "Marta" }));
        expect(store.forget({ userId: "alice" })).toBe(0);
        expect(store.forget({ userId: "alice", subject: "lucia" })).toBe(2);
        expect(store.list("alice").map((f) => f.subject)).toEqual(["Marta"]);
      });
    });

    describe("vacuum", () => {
      it("removes repeated history and reports the file shrinking", () => {
        const padding = "x".repeat(250);
        for (let i = 0; i < 400; i++) {
          store.remember(fact({ relation: "likes", object: `café ${padding}`, negated: i % 2 === 1 }));
          clock += 1;
        }
        for (let i = 0; i < 2000; i++) store.remember(fact({ subject: `n${i}`, object: padding }));
        store.forget({ userId: "alice", object: padding });
        expect(store.stats().facts).toBe(400);
        const report = store.vacuum();
        expect(report.duplicatesRemoved).toBe(398);
        expect(report.bytesAfter).toBeLessThan(report.bytesBefore);
        const left = store.recall({ userId: "alice", relation: "likes", includeHistory: true });
        expect(left.map((f) => f.negated)).toEqual([true, false]);
        expect(store.integrityCheck()).toBe("ok");
      });
    });

    describe("rotate", () => {
      it("removes facts not stated for N days unless pinned", () => {
        const old = store.remember(fact()).fact;
        const pinned = store.remember(fact({ subject: "Marta", pinned: true })).fact;
        clock += 40 * 86_400_000;
        store.remember(fact({ subject: "Pedro" }));
        expect(store.rotate(30)).toBe(1);
        expect(store.get("alice", old.id)).toBeUndefined();
        expect(store.get("alice", pinned.id)).toBeDefined();
        expect(store.list("alice")).toHaveLength(2);
        expect(() => store.rotate(-1)).toThrow(/days/);
      });
    });

    describe("stats", () => {
      it("counts active and historic facts and users", () => {
        store.remember(fact());
        store.remember(fact({ object: "Sevilla" }));
        store.remember(fact({ userId: "bob" }));
        expect(store.stats()).toMatchObject({ facts: 3, activeFacts: 2, historicFacts: 1, users: 2 });
        expect(store.stats("alice")).toMatchObject({ facts: 2, activeFacts: 1, historicFacts: 1, users: 1 });
        expect(store.stats().sizeMb).toBeGreaterThan(0);
      });
    });

    describe("busy timeout", () => {
      /** How long a write waits while another connection holds the write lock, and what it fails with. */
      function blockedWrite(): { ms: number; error: unknown } {
        const other = new Database(store.file);
        try {
          other.exec("BEGIN IMMEDIATE");
          const started = performance.now();
          const error = (() => {
            try {
              store.remember(fact({ object: `Sitio ${started}` }));
              return undefined;
            } catch (caught) {
              return caught;
            }
          })();
          return { ms: performance.now() - started, error };
        } finally {
          other.close();
        }
      }

      it("is 5000 ms unless opened with another, and changes live", () => {
        expect(store.busyTimeoutMs).toBe(5000);
        const other = EntityStore.open({ file: store.file, busyTimeoutMs: 750 });
        try {
          expect(other.busyTimeoutMs).toBe(750);
        } finally {
          other.close();
        }
        store.setBusyTimeout(1234);
        expect(store.busyTimeoutMs).toBe(1234);
        expect(() => store.setBusyTimeout(-1)).toThrow(RangeError);
        expect(() => store.setBusyTimeout(1.5)).toThrow(RangeError);
        expect(store.busyTimeoutMs).toBe(1234);
      });

      it("makes a write wait that long for another connection's lock before SQLITE_BUSY", () => {
        store.setBusyTimeout(400);
        const waited = blockedWrite();
        expect(waited.error).toMatchObject({ code: "SQLITE_BUSY" });
        expect(waited.ms).toBeGreaterThanOrEqual(350);
        expect(waited.ms).toBeLessThan(4000);
        store.setBusyTimeout(0);
        const immediate = blockedWrite();
        expect(immediate.error).toMatchObject({ code: "SQLITE_BUSY" });
        expect(immediate.ms).toBeLessThan(350);
        // The lock is gone: the write goes through.
        expect(store.remember(fact()).outcome).toBe("inserted");
      });
    });
  });
});
