import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConversationStore, defaultConversationTitle, toContainsPattern } from "./conversation-store.js";

describe("web", () => {
  describe("conversation store", () => {
    let dir: string;
    let file: string;
    let clock: number;
    let store: ConversationStore;
    beforeEach(() => {
      dir = mkdtempSync(path.join(tmpdir(), "sarai-conversations-"));
      file = path.join(dir, "state", "web.db");
      clock = 1_000;
      store = ConversationStore.open({ file, now: () => clock++ });
    });
    afterEach(() => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("creates, lists newest first with message counts, gets, renames and keeps it all across reopening", () => {
      const first = store.create("ana", { title: "Viaje a Lisboa" });
      const second = store.create("ana");
      expect(second.title).toBe(defaultConversationTitle);
      expect(first.id).toMatch(/^[0-9a-f-]{36}$/);
      store.appendMessage("ana", first.id, { role: "user", content: "¿Qué ver en Lisboa?" });
      store.appendMessage("ana", first.id, {
        role: "assistant",
        content: "El barrio de Alfama.",
        meta: { model: "main", memory: { recalled: [1], stored: [] }, response_id: "chatcmpl-1" },
      });
      // The first conversation got the latest message: it is the most recently updated.
      expect(store.list("ana").map((c) => [c.title, c.messageCount])).toEqual([
        ["Viaje a Lisboa", 2],
        [defaultConversationTitle, 0],
      ]);
      expect(store.list("ana", { limit: 1 })).toHaveLength(1);

      const renamed = store.rename("ana", second.id, "Recetas");
      expect(renamed?.title).toBe("Recetas");
      expect(store.list("ana")[0]?.id).toBe(second.id);

      store.close();
      store.close();
      store = ConversationStore.open({ file });
      const got = store.get("ana", first.id);
      expect(got?.messages.map((m) => [m.role, m.content])).toEqual([
        ["user", "¿Qué ver en Lisboa?"],
        ["assistant", "El barrio de Alfama."],
      ]);
      expect(got?.messages[0]?.meta).toBeNull();
      expect(got?.messages[1]?.meta).toEqual({
        model: "main",
        memory: { recalled: [1], stored: [] },
        response_id: "chatcmpl-1",
      });
      expect(got?.messageCount).toBe(2);
    });

    it("searches titles and message content, taking % and _ literally", () => {
      const percent = store.create("ana", { title: "Descuentos" });
      store.appendMessage("ana", percent.id, { role: "user", content: "¿Es un 100% seguro?" });
      const underscore = store.create("ana", { title: "snake_case names" });
      const plain = store.create("ana", { title: "100 percent snakecase" });
      store.create("bob", { title: "100% snake_case too" });

      expect(store.list("ana", { q: "100%" }).map((c) => c.id)).toEqual([percent.id]);
      expect(store.list("ana", { q: "e_c" }).map((c) => c.id)).toEqual([underscore.id]);
      expect(store.list("ana", { q: "SNAKE" }).map((c) => c.id)).toEqual([plain.id, underscore.id]);
      expect(store.list("ana", { q: "alfama" })).toEqual([]);
      expect(store.list("ana", { q: "%" }).map((c) => c.id)).toEqual([percent.id]);
      expect(toContainsPattern("a\\b%c_d")).toBe("%a\\\\b\\%c\\_d%");
      const backslash = store.create("ana", { title: "C:\\temp" });
      expect(store.list("ana", { q: "C:\\t" }).map((c) => c.id)).toEqual([backslash.id]);
    });

    it("never shows, changes or deletes another user's conversation", () => {
      const mine = store.create("ana", { title: "private" });
      const message = store.appendMessage("ana", mine.id, { role: "user", content: "secret" });
      expect(message).toBeDefined();

      expect(store.list("bob")).toEqual([]);
      expect(store.list("bob", { q: "secret" })).toEqual([]);
      expect(store.get("bob", mine.id)).toBeUndefined();
      expect(store.rename("bob", mine.id, "taken")).toBeUndefined();
      expect(store.appendMessage("bob", mine.id, { role: "user", content: "x" })).toBeUndefined();
      expect(store.truncateFrom("bob", mine.id, message!.id)).toBeUndefined();
      expect(store.delete("bob", mine.id)).toBe(false);

      const still = store.get("ana", mine.id);
      expect(still?.title).toBe("private");
      expect(still?.messages.map((m) => m.content)).toEqual(["secret"]);
      expect(store.get("ana", "no-such-id")).toBeUndefined();
    });

    it("truncates from a message: it and every later one go, earlier ones and other conversations stay", () => {
      const talk = store.create("ana");
      const other = store.create("ana");
      const ids = ["one", "two", "three", "four"].map(
        (content, i) =>
          store.appendMessage("ana", talk.id, { role: i % 2 === 0 ? "user" : "assistant", content })!.id,
      );
      const elsewhere = store.appendMessage("ana", other.id, { role: "user", content: "keep" })!;

      // A message of another conversation is not this conversation's.
      expect(store.truncateFrom("ana", talk.id, elsewhere.id)).toBeUndefined();
      expect(store.truncateFrom("ana", talk.id, 999_999)).toBeUndefined();
      expect(store.truncateFrom("ana", talk.id, ids[2]!)).toBe(2);
      expect(store.get("ana", talk.id)?.messages.map((m) => m.content)).toEqual(["one", "two"]);
      expect(store.get("ana", other.id)?.messages.map((m) => m.content)).toEqual(["keep"]);
      // The edited conversation is now the most recent one.
      expect(store.list("ana")[0]?.id).toBe(talk.id);

      const again = store.appendMessage("ana", talk.id, { role: "user", content: "three, edited" })!;
      expect(again.id).toBeGreaterThan(ids[1]!);
      expect(store.get("ana", talk.id)?.messages.map((m) => m.content)).toEqual([
        "one",
        "two",
        "three, edited",
      ]);
    });

    it("deletes a conversation with its messages", () => {
      const talk = store.create("ana");
      store.appendMessage("ana", talk.id, { role: "user", content: "hola" });
      store.appendMessage("ana", talk.id, { role: "assistant", content: "¡Hola!" });
      expect(store.delete("ana", talk.id)).toBe(true);
      expect(store.delete("ana", talk.id)).toBe(false);
      expect(store.get("ana", talk.id)).toBeUndefined();
      store.close();
      const db = new Database(file, { readonly: true });
      try {
        expect(db.prepare("SELECT COUNT(*) AS n FROM messages").get()).toEqual({ n: 0 });
      } finally {
        db.close();
      }
    });

    it("refuses a role outside user, assistant and system", () => {
      const talk = store.create("ana");
      expect(() => store.appendMessage("ana", talk.id, { role: "tool" as "user", content: "x" })).toThrow(
        /CHECK constraint/,
      );
    });

    it("names the file when it cannot be opened", () => {
      const blocked = path.join(dir, "state", "web.db", "inner.db");
      expect(() => ConversationStore.open({ file: blocked })).toThrow(/conversation database .*inner\.db/);
    });
  });
});
