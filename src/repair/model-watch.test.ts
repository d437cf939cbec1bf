import { copyFile, mkdtemp, rm, stat, utimes } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ensureTestModel } from "../../test/models.js";
import { hashFile } from "../shared/index.js";
import { ModelWatch } from "./model-watch.js";
import { RepairHistory } from "./repair-history.js";

describe("repair", () => {
  describe("model watch", () => {
    let dir: string;
    let file: string;
    let actual: string;
    beforeEach(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), "sarai-model-watch-"));
      file = path.join(dir, "main.gguf");
      await copyFile(await ensureTestModel(), file);
      actual = await hashFile(file);
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    const watch = async (history: RepairHistory) => {
      const watched = new ModelWatch([{ role: "main", file, pulled: true }], history);
      await watched.ready();
      return watched;
    };

    it("hashes a model once and takes the hash from the history at a later start while the file is unchanged", async () => {
      const history = RepairHistory.open(path.join(dir, "repair.db"));
      try {
        expect((await watch(history)).expectedHash("main")).toBe(actual);
        const { size, mtimeMs } = await stat(file);
        expect(history.knownHash(file, size, mtimeMs)).toBe(actual);

        // A stored hash for the same size and time is used as is: the file is not read again.
        const stored = "f".repeat(64);
        history.rememberHash(file, size, mtimeMs, stored);
        expect((await watch(history)).expectedHash("main")).toBe(stored);

        // A file whose time changed is hashed again, and the new hash is kept.
        const later = new Date(mtimeMs + 60_000);
        await utimes(file, later, later);
        const touched = await stat(file);
        expect((await watch(history)).expectedHash("main")).toBe(actual);
        expect(history.knownHash(file, touched.size, touched.mtimeMs)).toBe(actual);
        expect(history.knownHash(file, size, mtimeMs)).toBeUndefined();
      } finally {
        history.close();
      }
    });

    it("keeps its baseline when the history is already closed", async () => {
      const history = RepairHistory.open(path.join(dir, "repair.db"));
      history.close();
      const watched = new ModelWatch([{ role: "main", file, pulled: true }], {
        knownHash: () => undefined,
        rememberHash: (...args) => history.rememberHash(...args),
      });
      await watched.ready();
      expect(watched.expectedHash("main")).toBe(actual);
      expect(await watched.probe()).toEqual([
        { role: "main", file, status: "ok", detail: "unchanged since start" },
      ]);
    });
  });
});
