import { lstat, readdir, unlink } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import type { ActionDefinition } from "../scheduler.js";
import type { LoopPorts, LoopSettings } from "../ports.js";

export const logRetentionArgs = z
  .object({
    /** Overrides `proactive.logRetentionDays` for this run. */
    days: z.number().int().min(1).max(3650).optional(),
    /** Overrides `proactive.logMaxTotalMb` for this run, in MiB. */
    maxTotalMb: z.number().int().min(1).optional(),
  })
  .strict();

export type LogRetentionArgs = z.infer<typeof logRetentionArgs>;

export interface LogRetentionResult {
  removedFiles: string[];
  removedBytes: number;
  keptFiles: number;
  keptBytes: number;
  /** The file the logger is writing, never removed. */
  current: string | null;
  /** True when the folder is still over the cap with nothing left that may go. */
  overCap: boolean;
}

/** Log files: `sarai.3.log`, `supervisor.out.log`, rotated `x.log.1`, compressed `x.log.2.gz`. */
const logFilePattern = /\.log(?:\.\d+)?(?:\.gz)?$/;
/** The logger's own files (pino-roll): `sarai.<n>.log`, the highest number being written. */
const saraiLogPattern = /^sarai\.(\d+)\.log$/;

interface LogFile {
  name: string;
  size: number;
  mtimeMs: number;
}

/**
 * Deletes old log files: first every file not modified for `days` days, then the oldest ones until the folder
 * is at or under `maxTotalBytes`. Only regular files named like logs (`*.log`, `*.log.N`, `*.log.N.gz`) directly
 * in `logDir` are considered: symbolic links, folders and anything else are neither followed nor removed. The
 * file the logger writes — the highest-numbered `sarai.N.log`, and the most recently modified `sarai.*.log` in
 * case another process writes one — is never removed.
 */
export async function pruneLogs(
  logDir: string,
  options: { now: number; days: number; maxTotalBytes: number; signal?: AbortSignal },
): Promise<LogRetentionResult> {
  let names: string[];
  try {
    names = await readdir(logDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return { removedFiles: [], removedBytes: 0, keptFiles: 0, keptBytes: 0, current: null, overCap: false };
    }
    throw error;
  }
  const files: LogFile[] = [];
  for (const name of names) {
    if (!logFilePattern.test(name)) continue;
    // lstat, not stat: a link is judged as itself and never followed out of the folder.
    const stats = await lstat(path.join(logDir, name)).catch(() => undefined);
    if (stats?.isFile() !== true) continue;
    files.push({ name, size: stats.size, mtimeMs: stats.mtimeMs });
  }
  const protectedNames = currentLogFiles(files);
  const removedFiles: string[] = [];
  let removedBytes = 0;
  const remove = async (file: LogFile) => {
    options.signal?.throwIfAborted();
    try {
      await unlink(path.join(logDir, file.name));
    } catch (error) {
      // Another loop process removed it first.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    removedFiles.push(file.name);
    removedBytes += file.size;
  };

  const cutoff = options.now - options.days * 86_400_000;
  const kept: LogFile[] = [];
  for (const file of files) {
    if (file.mtimeMs < cutoff && !protectedNames.has(file.name)) await remove(file);
    else kept.push(file);
  }
  kept.sort((a, b) => a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name));
  let total = kept.reduce((sum, file) => sum + file.size, 0);
  const survivors: LogFile[] = [];
  for (const file of kept) {
    if (total > options.maxTotalBytes && !protectedNames.has(file.name)) {
      await remove(file);
      total -= file.size;
    } else {
      survivors.push(file);
    }
  }
  return {
    removedFiles,
    removedBytes,
    keptFiles: survivors.length,
    keptBytes: total,
    current: [...protectedNames][0] ?? null,
    overCap: total > options.maxTotalBytes,
  };
}

function currentLogFiles(files: readonly LogFile[]): Set<string> {
  const current = new Set<string>();
  let highest: { name: string; n: number } | undefined;
  let newest: LogFile | undefined;
  for (const file of files) {
    const match = saraiLogPattern.exec(file.name);
    if (match === null) continue;
    const n = Number(match[1]);
    if (highest === undefined || n > highest.n) highest = { name: file.name, n };
    if (newest === undefined || file.mtimeMs > newest.mtimeMs) newest = file;
  }
  if (highest !== undefined) current.add(highest.name);
  if (newest !== undefined) current.add(newest.name);
  return current;
}

/** `log_retention` (@daily and on `disk_low`): keeps the log folder within its age and size limits. */
export function createLogRetention(
  ports: LoopPorts,
  settings: LoopSettings,
): ActionDefinition<LogRetentionArgs> {
  return {
    name: "log_retention",
    description:
      "Deletes log files older than the retention period and keeps the log folder under its size cap",
    args: logRetentionArgs,
    run(context) {
      return pruneLogs(ports.logDir, {
        now: context.now(),
        days: context.args.days ?? settings.logRetentionDays,
        maxTotalBytes:
          context.args.maxTotalMb === undefined
            ? settings.logMaxTotalBytes
            : context.args.maxTotalMb * 2 ** 20,
        signal: context.signal,
      });
    },
  };
}
