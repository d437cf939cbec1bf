import { execFile } from "node:child_process";
import { expect } from "vitest";
import { cliArgs } from "./cli-process.js";

export { spawnCli } from "./cli-process.js";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliRunOptions {
  env?: Record<string, string>;
  input?: string | Buffer;
  cwd?: string;
}

/** Runs the real CLI in a child process with `dataDir` as its data directory and an unreachable model host. */
export function createCliRunner(dataDir: () => string) {
  return (args: string[], options: CliRunOptions = {}) =>
    new Promise<RunResult>((resolve) => {
      const child = execFile(
        process.execPath,
        cliArgs(args),
        {
          cwd: options.cwd ?? dataDir(),
          env: {
            PATH: process.env["PATH"] ?? "",
            HOME: dataDir(),
            SARAI_PATHS_DATA_DIR: dataDir(),
            // RFC 2606: .invalid never resolves, so "offline" is the same on every machine.
            SARAI_MODELS_HUGGING_FACE_ENDPOINT: "https://sarai-offline.invalid/",
            ...options.env,
          },
          maxBuffer: 16 * 2 ** 20,
        },
        (error, stdout, stderr) => {
          const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
          resolve({ code, stdout, stderr });
        },
      );
      child.stdin?.end(options.input ?? "");
    });
}

export function expectNoStackTrace(result: RunResult): void {
  expect(result.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
}
