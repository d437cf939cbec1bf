import { execFile, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { expect } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cli = path.join(root, "src", "cli", "main.ts");
// Children run in temp folders, where `--import tsx` would not resolve.
const tsx = pathToFileURL(path.join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;

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
        ["--import", tsx, cli, ...args],
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

/**
 * Starts the real CLI as a long-running child (`serve`, `loop`, `notifications --follow`) with `dataDir` as its
 * data directory; the caller reads its streams and stops it.
 */
export function spawnCli(
  dataDir: string,
  args: string[],
  env: Record<string, string> = {},
): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ["--import", tsx, cli, ...args], {
    cwd: dataDir,
    env: { PATH: process.env["PATH"] ?? "", HOME: dataDir, SARAI_PATHS_DATA_DIR: dataDir, ...env },
  });
}

export function expectNoStackTrace(result: RunResult): void {
  expect(result.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
}
