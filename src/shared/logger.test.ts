import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "sarai-log-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("shared", () => {
  describe("createLogger", () => {
    it("writes JSON lines to a file and rotates it by size, keeping a bounded number of files", async () => {
      const { logger, dispose } = await createLogger({
        level: "info",
        console: "off",
        dir,
        maxSizeMb: 2 / 1024, // 2 KiB
        maxFiles: 2,
      });
      for (let i = 0; i < 400; i++) {
        logger.info({ i, filler: "x".repeat(40) }, "line");
        // pino-roll rotates once the file stream drains; a server gives it that time between requests.
        if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
      }
      await dispose();
      const files = (await readdir(dir)).filter((f) => f.endsWith(".log")).sort();
      // The current file plus at most `maxFiles` rotated ones.
      expect(files.length).toBeGreaterThan(1);
      expect(files.length).toBeLessThanOrEqual(3);
      const last = files.map((f) => path.join(dir, f));
      const lines = (await Promise.all(last.map((f) => readFile(f, "utf8"))))
        .join("")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { i: number; msg: string; level: number });
      expect(lines.every((l) => l.msg === "line" && l.level === 30)).toBe(true);
      // The newest lines survive rotation; the oldest were dropped with old files.
      expect(Math.max(...lines.map((l) => l.i))).toBe(399);
      expect(Math.min(...lines.map((l) => l.i))).toBeGreaterThan(0);
    });

    it("never writes secrets and honours the level", async () => {
      const { logger, dispose } = await createLogger({
        level: "warn",
        console: "off",
        dir,
        maxSizeMb: 1,
        maxFiles: 1,
      });
      logger.info("hidden at warn level");
      logger.warn({ apiKey: "sk-secret", headers: { authorization: "Bearer sk-secret" } }, "visible");
      await dispose();
      const text = (
        await Promise.all((await readdir(dir)).map((f) => readFile(path.join(dir, f), "utf8")))
      ).join("");
      expect(text).toContain("visible");
      expect(text).not.toContain("hidden at warn level");
      expect(text).not.toContain("sk-secret");
      expect(text).toContain("[redacted]");
    });
  });
});
