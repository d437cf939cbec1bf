import { readFileSync } from "node:fs";
import { statfs } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { SystemReadings } from "./ports.js";

export interface SystemReadingsOptions {
  /** Where MemAvailable is read from. Default: `/proc/meminfo`. */
  meminfoFile?: string;
}

/**
 * The machine's real readings: this process's RSS, the kernel's MemAvailable (what can be given out without
 * swapping, page cache included; `os.freemem()` where `/proc/meminfo` is missing or has no such line) and the
 * free bytes an unprivileged process may use on the file system holding a folder.
 */
export function createSystemReadings(options: SystemReadingsOptions = {}): SystemReadings {
  const meminfoFile = options.meminfoFile ?? "/proc/meminfo";
  return {
    rssBytes: () => process.memoryUsage.rss(),
    availableMemoryBytes: () => readMemAvailable(meminfoFile) ?? os.freemem(),
    freeDiskBytes: (dir) => readFreeDiskBytes(dir),
  };
}

/** MemAvailable from a meminfo file, in bytes; undefined when the file or the line is missing. */
export function readMemAvailable(file = "/proc/meminfo"): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const match = /^MemAvailable:\s+(\d+)\s*kB$/m.exec(text);
  return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
}

/**
 * Free bytes for unprivileged writes (`bavail`, not `bfree`: root's reserve is not ours) on the file system
 * holding `dir`. A folder that does not exist yet is measured at its nearest existing parent, which is where
 * it will be created.
 */
export async function readFreeDiskBytes(dir: string): Promise<number> {
  let current = path.resolve(dir);
  for (;;) {
    try {
      const stats = await statfs(current);
      return stats.bavail * stats.bsize;
    } catch (error) {
      const parent = path.dirname(current);
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || parent === current) throw error;
      current = parent;
    }
  }
}
