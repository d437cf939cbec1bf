import { existsSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import type { LoadedConfig } from "../config/index.js";
import {
  loadAuditKey,
  resolveAuditPaths,
  tailAuditLog,
  verifyAuditLog,
  type AuditEntry,
} from "../security/index.js";
import { AppError } from "../shared/index.js";
import { UsageError } from "./usage-error.js";

/** `sarai audit verify|tail`: check the audit log's chain, read its last entries. */
export function registerAuditCommands(program: Command, loadConfigured: () => LoadedConfig): void {
  const audit = program
    .command("audit")
    .description("the HMAC-chained audit log of security-relevant events");
  audit
    .command("verify")
    .description(
      "walk the chain (default: every day file of the log) and name the first bad entry; exit 1 if any",
    )
    .argument("[files...]", "day files to check on their own")
    .option("--json", "print the result as JSON")
    .action((given: string[], flags: { json?: boolean }) => {
      const paths = resolveAuditPaths(loadConfigured().config);
      const files = given.map((file) => path.resolve(file));
      for (const file of files) {
        if (!existsSync(file))
          throw new AppError("INVALID_REQUEST", `${file}: no such file`, { param: "file" });
      }
      const key = loadAuditKey({ keyFile: paths.keyFile });
      const result = verifyAuditLog(files.length > 0 ? { files, key } : { dir: paths.dir, key });
      if (flags.json === true) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
      } else if (result.firstBad === undefined) {
        const torn =
          result.tornTail === undefined
            ? ""
            : ` (a torn last line at ${result.tornTail.file}:${result.tornTail.line}, left by a crash)`;
        process.stdout.write(
          `ok: ${result.entries} entries in ${result.files.length} file${result.files.length === 1 ? "" : "s"}${torn}\n`,
        );
      } else {
        const bad = result.firstBad;
        process.stdout.write(
          `FAILED  ${bad.file}:${bad.line}${bad.seq === undefined ? "" : ` (seq ${bad.seq})`}: ${bad.reason}\n`,
        );
      }
      if (!result.ok) process.exitCode = 1;
    });
  audit
    .command("tail")
    .description("print the last entries of the audit log")
    .option("-n, --lines <n>", "how many entries", "20")
    .option("--type <prefix>", "only entries whose type starts with this (e.g. auth.)")
    .option("--json", "print each entry as a JSON line")
    .action((flags: { lines: string; type?: string; json?: boolean }) => {
      const count = Number(flags.lines);
      if (!Number.isInteger(count) || count < 1 || count > 100_000) {
        throw new UsageError(`--lines: a whole number from 1 to 100000, not "${flags.lines}"`);
      }
      const { dir } = resolveAuditPaths(loadConfigured().config);
      for (const entry of tailAuditLog(dir, count, flags.type)) {
        process.stdout.write(flags.json === true ? `${JSON.stringify(entry)}\n` : `${formatEntry(entry)}\n`);
      }
    });
}

function formatEntry(entry: AuditEntry): string {
  const parts = [entry.ts, `#${entry.seq}`, entry.type];
  if (entry.outcome !== undefined) parts.push(entry.outcome);
  if (entry.actor !== undefined) parts.push(`actor=${entry.actor}`);
  if (entry.target !== undefined) parts.push(`target=${entry.target}`);
  if (entry.details !== undefined) parts.push(JSON.stringify(entry.details));
  return parts.join("  ");
}
