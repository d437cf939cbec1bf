#!/usr/bin/env node
import { createRequire } from "node:module";
import { Command, Option } from "commander";
import { formatConfigIssues, loadConfig, logLevels } from "../config/index.js";
import { isAppError } from "../shared/index.js";
import { registerLoopCommands } from "./loop-commands.js";
import { UsageError } from "./usage-error.js";

/**
 * `sarai loop …` without the rest of the CLI: the same commands and global options as `main.ts`, but it does not
 * load the server, the inference stack or node-llama-cpp, so it starts about 3× faster (≈0.5 s of CPU instead
 * of ≈2 s). Supervisors start the loop through it (`node dist/cli/loop-main.js loop`): after a crash, startup
 * is most of the restart time.
 */

const packageJson = createRequire(import.meta.url)("../../package.json") as { version: string };

interface GlobalOptions {
  config?: string;
  logLevel?: string;
}

const program = new Command()
  .name("sarai")
  .description("SARAi's proactive loop (the `sarai loop` commands, started quickly)")
  .version(packageJson.version, "-V, --version")
  .option("-c, --config <file>", "config file (default: $SARAI_CONFIG, else ./sarai.yaml if present)")
  .addOption(new Option("--log-level <level>", "log level").choices(logLevels))
  .option("-v, --verbose", "accepted for compatibility with sarai; the loop always logs to stderr")
  .showHelpAfterError("(run with --help for usage)");

registerLoopCommands(program, () => {
  const global = program.opts<GlobalOptions>();
  return loadConfig({
    file: global.config,
    overrides: global.logLevel === undefined ? {} : { log: { level: global.logLevel as never } },
  });
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // As main.ts reports errors: one line, the code, no stack trace; exit 2 for usage, else 1.
  if (error instanceof UsageError) {
    process.stderr.write(`sarai: ${error.message}\n`);
    process.exitCode = 2;
  } else if (isAppError(error)) {
    const body = error.code.startsWith("CONFIG_") ? formatConfigIssues(error) : error.message;
    process.stderr.write(`sarai: error [${error.code}]: ${body}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(
      `sarai: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  }
}
