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
  /** The working directory inside the sandbox. Default `/tmp` (the private one). */
  chdir?: string;
  /** Variables set over the default environment (`PATH=/usr/local/bin:/usr/bin:/bin`, `LANG=C.UTF-8`). */
  env?: Readonly<Record<string, string>>;
  /**
   * Host paths mounted at the same place after the private /tmp (so a folder under /tmp stays visible), in
   * order: a later bind may sit inside an earlier one. Read-only unless `writable`.
   */
  binds?: readonly SandboxBind[];
  /**
   * Caps each process's data memory (RLIMIT_DATA, set with the shell's `ulimit -d` before the program starts),
   * in MiB. Not the address-space limit (`prlimit --as`, `ulimit -v`): V8 reserves far more address space than
   * it touches (a WebAssembly memory alone reserves gigabytes), so a cap low enough to matter makes Node fail
   * with little memory in use. RLIMIT_DATA counts writable private mappings only as they are made, so an
   * allocation past the cap fails while reservations do not count. It is per process: a program that starts
   * workers can use a multiple of it. Default: no cap.
   */
  memoryMb?: number;
}

/** A host path made visible inside the sandbox. */
export interface SandboxBind {
  path: string;
  /** Default `false`: read-only. */
  writable?: boolean;
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

function bwrapArgs(options: SandboxRunOptions): string[] {
  const binds = (options.binds ?? []).flatMap((bind) => [
    bind.writable === true ? "--bind" : "--ro-bind",
    bind.path,
    bind.path,
  ]);
  return [
    ...["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"],
    ...binds,
    ...["--unshare-all", "--new-session", "--die-with-parent", "--chdir", options.chdir ?? "/tmp", "--"],
  ];
}

function limitedCommand(options: SandboxRunOptions): readonly string[] {
  const { memoryMb } = options;
  if (memoryMb === undefined) return options.command;
  if (!Number.isInteger(memoryMb) || memoryMb <= 0) {
    throw new TypeError(`memoryMb must be a positive integer, not ${memoryMb}`);
  }
  // `ulimit -d` takes KiB; `exec` keeps the program as the process the limit and the signals apply to.
  return ["/bin/sh", "-c", `ulimit -d ${memoryMb * 1024} && exec "$@"`, "sh", ...options.command];
}

export function runSandboxed(options: SandboxRunOptions): Promise<SandboxResult> {
  const { timeoutMs = 5000, maxOutputBytes = 64 * 1024 } = options;
  const args = [...bwrapArgs(options), ...limitedCommand(options)];
  return new Promise((resolve) => {
    const child = spawn("bwrap", args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: { PATH: "/usr/local/bin:/usr/bin:/bin", LANG: "C.UTF-8", ...options.env },
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
