import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
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
