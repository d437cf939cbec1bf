import { spawn, spawnSync } from "node:child_process";

/**
 * Runs untrusted code (a model's answer with the tests a request supplied) under bubblewrap: the whole file
 * system read-only, a private empty /tmp, no network, no other processes visible, a new session, killed with
 * its parent and after a wall-clock limit. Output is capped.
 */
export interface SandboxRunOptions {
  /** The program and its arguments, run inside the sandbox. */
  command: readonly string[];
  /** Written to the program's stdin. */
  input?: string;
  /** Killed after this long, in ms. Default 5000. */
  timeoutMs?: number;
  /** Bytes of stdout and of stderr kept (the rest is dropped). Default 64 KiB. */
  maxOutputBytes?: number;
}

export interface SandboxResult {
  /** The exit code, or null when the program was killed. */
  code: number | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

let available: boolean | undefined;

/** Whether bubblewrap runs here (checked once): Debian's `bubblewrap` package. */
export function sandboxAvailable(): boolean {
  available ??=
    spawnSync("bwrap", ["--ro-bind", "/", "/", "--unshare-all", "--", "true"], {
      stdio: "ignore",
      timeout: 5000,
    }).status === 0;
  return available;
}

const bwrapArgs = [
  "--ro-bind",
  "/",
  "/",
  "--dev",
  "/dev",
  "--proc",
  "/proc",
  "--tmpfs",
  "/tmp",
  "--unshare-all",
  "--new-session",
  "--die-with-parent",
  "--chdir",
  "/tmp",
  "--",
];

export function runSandboxed(options: SandboxRunOptions): Promise<SandboxResult> {
  const { timeoutMs = 5000, maxOutputBytes = 64 * 1024 } = options;
  return new Promise((resolve) => {
    const child = spawn("bwrap", [...bwrapArgs, ...options.command], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { PATH: "/usr/local/bin:/usr/bin:/bin", LANG: "C.UTF-8" },
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    const collect = (stream: NodeJS.ReadableStream) => {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on("data", (chunk: Buffer) => {
        if (size >= maxOutputBytes) return;
        chunks.push(chunk.subarray(0, maxOutputBytes - size));
        size += chunk.length;
      });
      return () => Buffer.concat(chunks).toString("utf8");
    };
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    child.stdin.on("error", () => undefined); // the program may exit before reading its input
    child.stdin.end(options.input ?? "", "utf8");
    let settled = false;
    const finish = (result: SandboxResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    child.once("error", (error) =>
      finish({ code: null, timedOut, stdout: stdout(), stderr: `could not start bwrap: ${error.message}` }),
    );
    child.once("close", (code) => finish({ code, timedOut, stdout: stdout(), stderr: stderr() }));
  });
}
