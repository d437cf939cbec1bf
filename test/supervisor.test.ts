import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config/index.js";
import { createSystemReadings, JobStore, LoopService, type LoopStatus } from "../src/proactive/index.js";
import { waitFor } from "./api-helpers.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const tsx = pathToFileURL(path.join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;

/**
 * The loop's light entry point (`loop-main`), built when `dist/` is at least as new as every source file (a clean
 * clone after `npm install`), else the sources through tsx (slower to start).
 */
function loopCommand(): string[] {
  const built = path.join(root, "dist", "cli", "loop-main.js");
  if (existsSync(built) && statSync(built).mtimeMs >= newestSourceMtime(path.join(root, "src"))) {
    return [process.execPath, built];
  }
  return [process.execPath, "--import", tsx, path.join(root, "src", "cli", "loop-main.ts")];
}

function newestSourceMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMtime(file));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(file).mtimeMs);
  }
  return newest;
}

/** `[program:sarai-loop]` of deploy/supervisord.conf with this machine's paths in place of /opt, /var. */
async function loopProgramSection(dataDir: string, logDir: string): Promise<string> {
  const conf = await readFile(path.join(root, "deploy", "supervisord.conf"), "utf8");
  const match = /^\[program:sarai-loop\]\n[\s\S]*?(?=^\[|(?![\s\S]))/m.exec(conf);
  if (match === null) throw new Error("deploy/supervisord.conf has no [program:sarai-loop] section");
  const section = match[0];
  expect(section).toMatch(/^command=\/usr\/bin\/node \/opt\/sarai\/dist\/cli\/loop-main\.js loop$/m);
  expect(section).toMatch(/^autorestart=true$/m);
  expect(section).toMatch(/^startsecs=1$/m);
  expect(section).toMatch(/^stopsignal=TERM$/m);
  const quote = (arg: string) => (/^[\w./:=-]+$/.test(arg) ? arg : `"${arg}"`);
  return (
    section
      .replace("/usr/bin/node /opt/sarai/dist/cli/loop-main.js", loopCommand().map(quote).join(" "))
      // The test runs as whoever runs it; `user=` needs root and a `sarai` account.
      .replace(/^user=.*\n/m, "")
      .replaceAll("/var/lib/sarai", dataDir)
      .replaceAll("/var/log/sarai", logDir)
  );
}

function run(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: root, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr });
    });
  });
}

/** The newest loop start recorded in the database, if any (read-only: the loop owns the file). */
function newestStart(file: string): { pid: number; startedAt: number; starts: number } | undefined {
  if (!existsSync(file)) return undefined;
  let store: JobStore | undefined;
  try {
    store = JobStore.open({ file, readonly: true });
    const newest = store.starts(1)[0];
    return newest === undefined ? undefined : { ...newest, starts: store.startCount() };
  } catch {
    // Created but not migrated yet.
    return undefined;
  } finally {
    store?.close();
  }
}

/** `LoopService.status()` over the data folder the supervised loop uses (opened, never started). */
function loopStatus(dataDir: string): LoopStatus {
  const { config } = loadConfig({ env: { HOME: dataDir, SARAI_PATHS_DATA_DIR: dataDir }, cwd: dataDir });
  const service = LoopService.open({
    config,
    ports: { readings: createSystemReadings(), logDir: config.paths.logDir, stateDir: config.paths.stateDir },
  });
  try {
    return service.status();
  } finally {
    service.store.close();
  }
}

/** When supervisord logged spawning `pid` (its log's local time, millisecond precision). */
function lastSpawn(log: string, pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  const line = log.split("\n").find((l) => l.includes(`spawned: 'sarai-loop' with pid ${pid}`));
  const match = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d),(\d{3})/.exec(line ?? "");
  if (match === null) return undefined;
  const [y = 0, mo = 1, d, h, mi, sec, ms] = match.slice(1).map(Number);
  return new Date(y, mo - 1, d, h, mi, sec, ms).getTime();
}

function readFileSyncSafe(file: string): string {
  return existsSync(file) ? readFileSync(file, "utf8") : "";
}

describe("proactive", () => {
  describe("supervisor", () => {
    let dir: string;
    let conf: string;
    let supervisord: ChildProcess | undefined;

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), "sarai-supervisor-"));
    });

    afterAll(async () => {
      if (supervisord !== undefined && supervisord.exitCode === null) {
        const exited = new Promise((resolve) => supervisord?.once("exit", resolve));
        supervisord.kill("SIGTERM");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    });

    it("restarts a killed sarai loop in under 5 s", async () => {
      const found = spawnSync("supervisord", ["--version"], { encoding: "utf8" });
      if (found.error !== undefined || found.status !== 0) {
        throw new Error(
          "supervisord is not installed: install Debian's `supervisor` package " +
            "(apt-get install -y supervisor; .ci/run does it) to run the supervisor restart test",
        );
      }
      const dataDir = path.join(dir, "data");
      const logDir = path.join(dir, "log");
      await mkdir(dataDir, { recursive: true });
      await mkdir(logDir, { recursive: true });
      const socket = path.join(dir, "supervisor.sock");
      conf = path.join(dir, "supervisord.conf");
      await writeFile(
        conf,
        [
          "[unix_http_server]",
          `file=${socket}`,
          "",
          "[supervisord]",
          `logfile=${path.join(dir, "supervisord.log")}`,
          `pidfile=${path.join(dir, "supervisord.pid")}`,
          `childlogdir=${logDir}`,
          "nodaemon=true",
          "",
          "[rpcinterface:supervisor]",
          "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
          "",
          "[supervisorctl]",
          `serverurl=unix://${socket}`,
          "",
          await loopProgramSection(dataDir, logDir),
        ].join("\n"),
      );
      const database = path.join(dataDir, "state", "loop.db");
      const ctl = (...args: string[]) => run("supervisorctl", ["-c", conf, ...args]);

      supervisord = spawn("supervisord", ["-n", "-c", conf], { stdio: "ignore" });
      await waitFor(
        "the loop's first start in its database",
        () => newestStart(database) !== undefined,
        30_000,
      );
      // Killed before startsecs, a process counts as a failed start (backoff); a running one restarts at once.
      await waitFor(
        "supervisor to call the loop RUNNING",
        async () => / RUNNING /.test((await ctl("status", "sarai-loop")).stdout),
        15_000,
      );
      const first = newestStart(database);
      expect(first).toBeDefined();
      const ctlPid = Number((await ctl("pid", "sarai-loop")).stdout.trim());
      expect(ctlPid).toBe(first?.pid);
      const restartsBefore = loopStatus(dataDir).restarts;

      const killedAt = Date.now();
      process.kill(first?.pid as number, "SIGKILL");
      let second: ReturnType<typeof newestStart>;
      await waitFor(
        "a new loop start after the kill",
        () => {
          second = newestStart(database);
          return second !== undefined && second.pid !== first?.pid;
        },
        20_000,
      );
      const restartMs = Date.now() - killedAt;
      const spawnedAt = lastSpawn(await readFile(path.join(dir, "supervisord.log"), "utf8"), second?.pid);
      console.log(
        `sarai loop restart under supervisord: ${restartMs} ms from kill -9 to the next recorded start ` +
          `(supervisord respawned it after ${spawnedAt === undefined ? "?" : spawnedAt - killedAt} ms; ` +
          `${loopCommand().includes("--import") ? "sources through tsx" : "dist/"}, load ${os.loadavg()[0]?.toFixed(1)})`,
      );
      expect(restartMs).toBeLessThan(5_000);
      expect(second?.starts).toBe((first?.starts ?? 0) + 1);
      expect(loopStatus(dataDir).restarts).toBe(restartsBefore + 1);

      // `sarai loop status` reads the same from the database; the killed process beats no more.
      const [node, ...cliArgs] = loopCommand();
      const result = await run(node as string, [...cliArgs, "loop", "status", "--json"], {
        HOME: dataDir,
        SARAI_PATHS_DATA_DIR: dataDir,
      });
      expect(result.code, result.stderr).toBe(0);
      const status = JSON.parse(result.stdout) as {
        restarts: number;
        processes: { pid: number; alive: boolean; heartbeatAt: number }[];
      };
      expect(status.restarts).toBe(restartsBefore + 1);
      expect(status.processes.find((p) => p.pid === second?.pid)?.alive).toBe(true);
      expect(status.processes.find((p) => p.pid === first?.pid)?.heartbeatAt).toBeLessThanOrEqual(killedAt);

      // Stopping supervisor stops the loop with SIGTERM: a clean exit, logged as such.
      const exited = new Promise<number | null>((resolve) => supervisord?.once("exit", resolve));
      await ctl("shutdown");
      expect(await exited).toBe(0);
      const loopLog = await readFile(path.join(logDir, "loop.err.log"), "utf8");
      expect(loopLog).toContain("proactive loop started (start 2 on this database)");
      expect(loopLog).toContain("proactive loop stopped");
      expect(readFileSyncSafe(path.join(logDir, "loop.out.log"))).toBe("");
    }, 90_000);
  });
});
