/**
 * The real CLI as a long-running child process, for tests and benchmarks alike (no test-runner imports here, so
 * `bench/` can use it too).
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cli = path.join(root, "src", "cli", "main.ts");
/** The CLI as `npm run build` leaves it (what `npm start` and the package's `sarai` bin run). */
export const builtCli = path.join(root, "dist", "cli", "main.js");
// Children run in temp folders, where `--import tsx` would not resolve.
const tsx = pathToFileURL(path.join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;

/** Node's arguments that run the CLI from source with `args`. */
export function cliArgs(args: readonly string[]): string[] {
  return ["--import", tsx, cli, ...args];
}

/**
 * Starts the real CLI as a long-running child (`serve`, `loop`, `notifications --follow`) with `dataDir` as its
 * working directory, home and data directory, and only PATH from this process's environment; the caller reads its
 * streams and stops it.
 */
export function spawnCli(
  dataDir: string,
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  built = false,
): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, built ? [builtCli, ...args] : cliArgs(args), {
    cwd: dataDir,
    env: { PATH: process.env["PATH"] ?? "", HOME: dataDir, SARAI_PATHS_DATA_DIR: dataDir, ...env },
  });
}

export interface CliServerOptions {
  /** The working directory, home and data folder. */
  dataDir: string;
  /** The CLI's arguments, `serve` included. */
  args: readonly string[];
  /** Variables set over {@link spawnCli}'s. */
  env?: Readonly<Record<string, string>>;
  /** How long the server may take to say it listens, in ms. */
  startTimeoutMs: number;
  /** Runs {@link builtCli} instead of the sources. */
  built?: boolean;
}

export interface CliServer {
  /** The address the server printed (`listening on …`). */
  url: string;
  child: ChildProcessWithoutNullStreams;
  alive(): boolean;
  /** SIGTERM, then waits for the exit; does nothing once the process has ended. */
  stop(): Promise<void>;
}

/** Starts `sarai serve` and resolves once it listens; rejects with its last stderr when it exits or times out first. */
export async function startCliServer(options: CliServerOptions): Promise<CliServer> {
  const child = spawnCli(options.dataDir, options.args, options.env, options.built);
  child.stdin.end();
  child.stdout.resume();
  let stderr = "";
  child.stderr.setEncoding("utf8");
  const alive = () => child.exitCode === null && child.signalCode === null;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`the server did not start within ${options.startTimeoutMs / 1000} s\n${stderr}`));
    }, options.startTimeoutMs);
    child.stderr.on("data", (text: string) => {
      stderr = (stderr + text).slice(-8192);
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}) before listening\n${stderr}`));
    });
  });
  return {
    url,
    child,
    alive,
    stop: async () => {
      if (!alive()) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
