import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FeedbackStore } from "./feedback-store.js";

describe("learning", () => {
  describe("feedback store", () => {
    let dir: string;
    let file: string;
    beforeEach(() => {
      dir = mkdtempSync(path.join(tmpdir(), "sarai-feedback-"));
      file = path.join(dir, "state", "learning.db");
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it("keeps ratings per user across reopening, newest first, and one per response id", () => {
      let clock = 1000;
      const store = FeedbackStore.open({ file, now: () => clock++ });
      store.add({ userId: "ana", rating: "up", prompt: "hola", answer: "¡Hola!", responseId: "chatcmpl-1" });
      store.add({
        userId: "ana",
        rating: "down",
        prompt: "2+2",
        answer: "5",
        correction: "4",
        responseId: "chatcmpl-2",
      });
      store.add({ userId: "bob", rating: "up", prompt: "hi", answer: "Hi!", responseId: "chatcmpl-1" });
      // Ana changes her mind about the first answer: the rating is replaced, not added.
      store.add({
        userId: "ana",
        rating: "down",
        prompt: "hola",
        answer: "¡Hola!",
        responseId: "chatcmpl-1",
      });
      store.close();
      store.close();

      const reopened = FeedbackStore.open({ file });
      const ana = reopened.list("ana");
      expect(ana.map((item) => [item.responseId, item.rating])).toEqual(
        expect.arrayContaining([
          ["chatcmpl-1", "down"],
          ["chatcmpl-2", "down"],
        ]),
      );
      expect(ana).toHaveLength(2);
      expect(ana.find((item) => item.responseId === "chatcmpl-2")?.correction).toBe("4");
      expect(reopened.list("bob").map((item) => item.rating)).toEqual(["up"]);
      expect(reopened.list("ana", { rating: "up" })).toEqual([]);
      expect(reopened.since(0).map((item) => item.userId)).toEqual(["ana", "ana", "bob"]);
      reopened.close();
    });

    it("deletes only the user's own rating", () => {
      const store = FeedbackStore.open({ file });
      const mine = store.add({ userId: "ana", rating: "up", prompt: "p", answer: "a" });
      expect(store.delete("bob", mine.id)).toBe(false);
      expect(store.list("ana")).toHaveLength(1);
      expect(store.delete("ana", mine.id)).toBe(true);
      expect(store.list("ana")).toEqual([]);
      store.close();
    });

    it("keeps the conversation, conversation id and adapter behind a rating, and replaces them on a re-rating", () => {
      const store = FeedbackStore.open({ file });
      const messages = [
        { role: "system" as const, content: "Eres SARAi." },
        { role: "user" as const, content: "¿Cuál es la capital de Perú?" },
        { role: "assistant" as const, content: "Lima." },
      ];
      const first = store.add({
        userId: "ana",
        rating: "up",
        prompt: "¿Y la de Chile?",
        answer: "Santiago.",
        messages,
        conversationId: "conv-1",
        adapter: "lora-ana-0001",
        responseId: "chatcmpl-9",
      });
      expect(first).toMatchObject({ messages, conversationId: "conv-1", adapter: "lora-ana-0001" });
      const plain = store.add({ userId: "ana", rating: "up", prompt: "hi", answer: "Hi!" });
      expect(plain).toMatchObject({ messages: null, conversationId: null, adapter: null });
      const again = store.add({
        userId: "ana",
        rating: "down",
        prompt: "¿Y la de Chile?",
        answer: "Santiago.",
        correction: "Santiago de Chile.",
        messages: [],
        responseId: "chatcmpl-9",
      });
      expect(again).toMatchObject({ id: first.id, messages: [], conversationId: null, adapter: null });
      store.close();

      const reopened = FeedbackStore.open({ file });
      expect(reopened.since(0).map((item) => item.messages)).toEqual([[], null]);
      reopened.close();
    });

    it("counts the ratings after an id, of everyone or of one user", () => {
      const store = FeedbackStore.open({ file });
      expect(store.count()).toBe(0);
      const a = store.add({ userId: "ana", rating: "up", prompt: "p1", answer: "a1" });
      store.add({ userId: "bob", rating: "up", prompt: "p2", answer: "a2" });
      store.add({ userId: "ana", rating: "down", prompt: "p3", answer: "a3" });
      expect(store.count()).toBe(3);
      expect(store.count(a.id)).toBe(2);
      expect(store.count(a.id, { userId: "ana" })).toBe(1);
      expect(store.count(0, { userId: "carol" })).toBe(0);
      expect(store.since(0, 10, { userId: "ana" }).map((item) => item.prompt)).toEqual(["p1", "p3"]);
      store.close();
    });

    it("reads messages stored as anything but turns as null rather than failing", () => {
      const store = FeedbackStore.open({ file });
      store.add({ userId: "ana", rating: "up", prompt: "p", answer: "a" });
      store.close();
      const db = new Database(file);
      db.prepare("UPDATE feedback SET messages = ?").run('[{"role":"tool","content":"x"}]');
      db.close();
      const reopened = FeedbackStore.open({ file });
      expect(reopened.list("ana")[0]?.messages).toBeNull();
      reopened.close();
    });

    it("adds the new columns to a database from before them, keeping its rows", () => {
      mkdirSync(path.dirname(file), { recursive: true });
      const old = new Database(file);
      // The schema as first released.
      old.exec(`CREATE TABLE feedback (
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
      CREATE INDEX feedback_user ON feedback (user_id, id);
      CREATE UNIQUE INDEX feedback_response ON feedback (user_id, response_id) WHERE response_id IS NOT NULL;`);
      old
        .prepare(
          `INSERT INTO feedback (user_id, rating, prompt, answer, correction, response_id, model, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run("ana", "down", "2+2", "5", "4", "chatcmpl-old", "qwen", 1234);
      old.close();

      const store = FeedbackStore.open({ file });
      expect(store.list("ana")).toEqual([
        {
          id: 1,
          userId: "ana",
          rating: "down",
          prompt: "2+2",
          answer: "5",
          correction: "4",
          comment: null,
          responseId: "chatcmpl-old",
          model: "qwen",
          messages: null,
          conversationId: null,
          adapter: null,
          createdAt: 1234,
        },
      ]);
      // The migrated table takes the new fields, and re-rating the old response still replaces it.
      const replaced = store.add({
        userId: "ana",
        rating: "up",
        prompt: "2+2",
        answer: "4",
        responseId: "chatcmpl-old",
        adapter: "lora-1",
      });
      expect(replaced).toMatchObject({ id: 1, adapter: "lora-1" });
      store.close();
      // Opening a migrated file again changes nothing.
      const again = FeedbackStore.open({ file });
      expect(again.count()).toBe(1);
      again.close();
    });

    it("fails to open with STORE_FAILED naming the file", () => {
      // A file where the folder should be.
      writeFileSync(path.join(dir, "taken"), "x");
      const file = path.join(dir, "taken", "learning.db");
      expect(() => FeedbackStore.open({ file })).toThrow(
        expect.objectContaining({ code: "STORE_FAILED", message: expect.stringContaining(file) as unknown }),
      );
    });
  });
});
