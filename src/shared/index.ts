export { AppError, AbortedError, errorCatalogue, isAppError, toAppError } from "./errors.js";
export type { AppErrorOptions, ErrorCode } from "./errors.js";
export { parseJsonOrUndefined } from "./json.js";
export { createLogger, createSilentLogger } from "./logger.js";
export type { AppLogger, Logger, LoggerOptions, LogLevel } from "./logger.js";
export { createRandom } from "./random.js";
export { createTimedRegExp, RegExpTimeoutError } from "./timed-regexp.js";
export { openSqliteStore } from "./sqlite.js";
export { hashFile } from "./hash-file.js";
