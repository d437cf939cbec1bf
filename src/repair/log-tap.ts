import type { LogEntry } from "./types.js";

/** pino's level numbers. */
const warnLevel = 40;

export interface LogTapOptions {
  /** Entries kept; the oldest go first. Default: `2000`. */
  capacity?: number;
}

/**
 * A pino destination that keeps the structured warn-and-above entries the detectors read: the same JSON lines
 * the log file gets, parsed once, with the error code and target lifted out. Lines that are not JSON are ignored.
 */
export class LogTap {
  readonly #capacity: number;
  #entries: LogEntry[] = [];

  constructor(options: LogTapOptions = {}) {
    this.#capacity = options.capacity ?? 2000;
  }

  /** pino's stream interface: one or more JSON lines. */
  write(chunk: string): void {
    for (const line of chunk.split("\n")) {
      const entry = parseLogLine(line);
      if (entry === undefined || entry.level < warnLevel) continue;
      this.#entries.push(entry);
    }
    if (this.#entries.length > this.#capacity) this.#entries = this.#entries.slice(-this.#capacity);
  }

  /** Entries at or after `time` (epoch ms), oldest first. */
  since(time: number): LogEntry[] {
    return this.#entries.filter((entry) => entry.time >= time);
  }
}

/** One pino JSON line as a log entry; undefined when it is not one. */
export function parseLogLine(line: string): LogEntry | undefined {
  const text = line.trim();
  if (!text.startsWith("{")) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const level = typeof record["level"] === "number" ? record["level"] : undefined;
  const time = parseTime(record["time"]);
  if (level === undefined || time === undefined) return undefined;
  const err = asRecord(record["err"]);
  const cause = asRecord(err?.["cause"]);
  const code = firstString(record["code"], err?.["code"], cause?.["code"]);
  const target = firstString(record["role"], record["param"], err?.["param"], record["file"]);
  return {
    time,
    level,
    msg: typeof record["msg"] === "string" ? record["msg"] : "",
    ...(code === undefined ? {} : { code }),
    ...(target === undefined ? {} : { target }),
  };
}

function parseTime(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value !== "string") return undefined;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? undefined : parsed;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
}

function firstString(...values: unknown[]): string | undefined {
  return values.find((value): value is string => typeof value === "string" && value.length > 0);
}
