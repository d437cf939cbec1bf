import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSystemReadings, readFreeDiskBytes, readMemAvailable } from "./system-readings.js";

describe("proactive", () => {
  describe("system readings", () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), "sarai-readings-"));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it("reads MemAvailable in bytes from a meminfo file", async () => {
      const file = path.join(dir, "meminfo");
      await writeFile(file, "MemTotal:       16000000 kB\nMemFree:  100 kB\nMemAvailable:    1234567 kB\n");
      expect(readMemAvailable(file)).toBe(1234567 * 1024);
      expect(createSystemReadings({ meminfoFile: file }).availableMemoryBytes()).toBe(1234567 * 1024);
    });

    it("falls back to os.freemem() without a MemAvailable line", async () => {
      const file = path.join(dir, "meminfo");
      await writeFile(file, "MemTotal: 1 kB\n");
      expect(readMemAvailable(file)).toBeUndefined();
      expect(readMemAvailable(path.join(dir, "missing"))).toBeUndefined();
      const available = createSystemReadings({ meminfoFile: file }).availableMemoryBytes();
      expect(available).toBeGreaterThan(0);
      expect(available).toBeLessThanOrEqual(os.totalmem());
    });

    it("reports this machine's MemAvailable and this process's RSS", () => {
      const readings = createSystemReadings();
      const rss = readings.rssBytes();
      // An idle Node process with Vitest loaded is tens of MiB, never more than the machine.
      expect(rss).toBeGreaterThan(10 * 2 ** 20);
      expect(rss).toBeLessThan(os.totalmem());
      const available = readings.availableMemoryBytes();
      expect(available).toBeGreaterThan(0);
      expect(available).toBeLessThanOrEqual(os.totalmem());
    });

    it("reports free disk like df, for a folder that does not exist yet too", async () => {
      const free = await readFreeDiskBytes(dir);
      // df's available column (1K blocks) for the same file system, read at nearly the same moment.
      const df = execFileSync("df", ["-k", "--output=avail", dir], { encoding: "utf8" });
      const dfBytes = Number(df.trim().split("\n").at(-1)) * 1024;
      expect(Math.abs(free - dfBytes)).toBeLessThan(64 * 2 ** 20);
      const missing = await createSystemReadings().freeDiskBytes(path.join(dir, "not", "yet"));
      expect(Math.abs(missing - free)).toBeLessThan(64 * 2 ** 20);
    });
  });
});
