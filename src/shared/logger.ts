import { mkdirSync } from "node:fs";
import path from "node:path";
import { pino, type DestinationStream, type Level, type Logger, type StreamEntry } from "pino";
import buildRollingFile from "pino-roll";

export type { Logger } from "pino";

export type LogLevel = Level | "silent";

export interface LoggerOptions {
  level: LogLevel;
  /** Where console lines go: `stdout` for the server, `stderr` for CLI commands whose stdout is output. */
  console: "stdout" | "stderr" | "off";
  /** Directory for the rotating log file; no file when undefined. */
  dir?: string | undefined;
  /** Rotate the file when it reaches this many MiB. */
  maxSizeMb: number;
  /** Keep at most this many rotated files. */
  maxFiles: number;
  /** Also receives every JSON line at warn and above (the self-repair detectors read the log through it). */
  tap?: { write(line: string): void } | undefined;
}

export interface AppLogger {
  logger: Logger;
  /** Flushes and closes the file stream; idempotent. */
  dispose: () => Promise<void>;
}

/** Keys whose values never reach a log line. */
const redactPaths = [
  "apiKey",
  "*.apiKey",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "req.headers.authorization",
  "token",
  "*.token",
];

/**
 * A pino logger that writes JSON lines to the console and to `<dir>/sarai.N.log`, rotated by size with a
 * bounded number of files.
 */
export async function createLogger(options: LoggerOptions): Promise<AppLogger> {
  const streams: StreamEntry[] = [];
  if (options.console !== "off") {
    streams.push({
      level: "trace",
      stream: pino.destination({ dest: options.console === "stdout" ? 1 : 2 }),
    });
  }
  let fileStream: (DestinationStream & { end?: () => void; flushSync?: () => void }) | undefined;
  if (options.dir !== undefined) {
    mkdirSync(options.dir, { recursive: true });
    fileStream = await buildRollingFile({
      file: path.join(options.dir, "sarai"),
      extension: ".log",
      size: `${Math.max(1, Math.round(options.maxSizeMb * 1024))}k`,
      limit: { count: options.maxFiles },
      mkdir: true,
    });
    streams.push({ level: "trace", stream: fileStream });
  }
  if (options.tap !== undefined) streams.push({ level: "warn", stream: options.tap });
  const logger = pino(
    {
      level: options.level,
      base: { pid: process.pid },
      redact: { paths: redactPaths, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.multistream(streams),
  );
  let disposed = false;
  return {
    logger,
    dispose: () => {
      if (disposed) return Promise.resolve();
      disposed = true;
      logger.flush();
      const stream = fileStream;
      if (stream?.end === undefined) return Promise.resolve();
      return new Promise<void>((resolve) => {
        (stream as unknown as NodeJS.WritableStream).once("close", () => resolve());
        (stream as unknown as NodeJS.WritableStream).once("error", () => resolve());
        stream.end?.();
      });
    },
  };
}

/** A logger that drops everything, for tests and library use. */
export function createSilentLogger(): Logger {
  return pino({ level: "silent" });
}
