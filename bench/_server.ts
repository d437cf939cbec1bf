/** `sarai` as a child process for the benchmarks. Files starting with `_` are not benchmarks themselves. */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cliEntry = path.join(root, "src", "cli", "main.ts");
const tsxLoader = pathToFileURL(path.join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;

/** Node's arguments that run the CLI from source with `args`. */
export function cliArgs(...args: string[]): string[] {
  return ["--import", tsxLoader, cliEntry, ...args];
}

/** The environment a bench's `sarai` runs in: only PATH from the bench's, its home and data in `dataDir`. */
export function cliEnv(dataDir: string, env: Readonly<Record<string, string>> = {}): Record<string, string> {
  return { PATH: process.env["PATH"] ?? "", HOME: dataDir, SARAI_PATHS_DATA_DIR: dataDir, ...env };
}

export interface CliServerOptions {
  /** The working directory, home and data folder. */
  dataDir: string;
  /** The CLI's arguments, `serve` included. */
  args: readonly string[];
  /** Variables set over {@link cliEnv}'s. */
  env?: Readonly<Record<string, string>>;
  /** How long the server may take to say it listens, in ms. */
  startTimeoutMs: number;
}

export interface CliServer {
  /** The address the server printed (`listening on …`). */
  url: string;
  child: ChildProcess;
  alive(): boolean;
  /** SIGTERM, then waits for the exit; does nothing once the process has ended. */
  stop(): Promise<void>;
}

/** Starts `sarai serve` and resolves once it listens; rejects with its last stderr when it exits or times out first. */
export async function startCliServer(options: CliServerOptions): Promise<CliServer> {
  const child = spawn(process.execPath, cliArgs(...options.args), {
    cwd: options.dataDir,
    env: cliEnv(options.dataDir, options.env),
    stdio: ["ignore", "ignore", "pipe"],
  });
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
