/**
 * Level-2 self-repair: signed patches. A patch is a git diff (paths relative to the install root, `a/` and `b/`
 * prefixes) with a detached OpenPGP signature by the installation's trusted key. It is checked, applied to a
 * throwaway worktree and tested there under bubblewrap; only then is it applied to the running install, with a
 * snapshot of every file it touches, and rolled back when the install's health degrades within a window.
 *
 * The install is never committed to: a patch leaves the checkout with uncommitted changes, and the next patch's
 * worktree starts from HEAD plus those changes, so patches stack.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, watch as watchFolder, type FSWatcher } from "node:fs";
import {
  chmod,
  copyFile,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  rmdir,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import path from "node:path";
import { runSandboxed, sandboxAvailable, verifyBytes } from "../security/index.js";
import type { AuditSink, TrustedKey } from "../security/index.js";

/** What became of a patch. */
export type PatchStatus = "refused" | "tests_failed" | "rolled_back" | "applied";

/** The stages a patch goes through, in order; `cleanup` (the worktree's removal) runs whatever happened. */
export type PatchStepName =
  "verify" | "parse" | "worktree" | "test" | "cleanup" | "switch" | "health" | "rollback";

export interface PatchStep {
  step: PatchStepName;
  ok: boolean;
  detail: string;
  ms: number;
}

export interface PatchOutcome {
  /** `<UTC time>-<6 hex>`: names the worktree, the snapshot folder and the audit entries. */
  id: string;
  status: PatchStatus;
  reason: string;
  /** The install-relative paths the patch touches (both sides of a rename). */
  files: string[];
  steps: PatchStep[];
  /** Restoring the snapshot plus the second `switchIn`, when the patch was rolled back. */
  rollbackMs?: number;
  durationMs: number;
}

export interface PatchRequest {
  diffFile: string;
  /** The armored detached signature (`<diffFile>.asc`); binary signatures are read too. */
  signatureFile: string;
  /** Test files (worktree-relative) appended to the test command: the subset the patch names. */
  tests?: readonly string[];
}

export interface PatchHealth {
  ok: boolean;
  detail: string;
}

export interface PatchApplierOptions {
  /** The running install: a git checkout whose root the patch's paths are relative to. */
  installDir: string;
  /** Where worktrees (`wt-<id>`), verified patch copies and snapshots (`snapshot-<id>`) go. */
  workDir: string;
  /** The key patches must be signed by; undefined when none was made yet (every patch is refused). */
  trustedKey: () => Promise<TrustedKey | undefined>;
  /** Run in the worktree with the patch's test files appended. Default `["npx", "vitest", "run"]`. */
  testCommand?: readonly string[];
  /** Wall-clock limit for the tests, in ms. Default 10 minutes. */
  testTimeoutMs?: number;
  /** Data memory per test process (RLIMIT_DATA), in MiB; Node's old space is capped at 3/4 of it. Default 4096. */
  testMemoryMb?: number;
  /** Called after the switch, every `healthIntervalMs` for `healthWindowMs`; a not-ok or a throw rolls back. */
  health: () => Promise<PatchHealth>;
  /** Default 5000 ms. */
  healthWindowMs?: number;
  /** Default 500 ms. */
  healthIntervalMs?: number;
  /**
   * Makes the running install use the replaced files (reload config, restart a process). Called after the patch
   * is applied and again after a rollback restores the files; a throw after the patch rolls it back.
   */
  switchIn?: (changedFiles: readonly string[]) => Promise<void>;
  audit: AuditSink;
  /** The clock for patch ids. Durations use the monotonic clock. */
  now?: () => Date;
}

export interface PatchWatchOptions {
  /** How long a `.diff` may wait for its `.diff.asc` before it is refused. Default 60000 ms. */
  signatureGraceMs?: number;
  /** The fallback scan when file events are missed (network file systems, a folder replaced). Default 2000 ms. */
  pollIntervalMs?: number;
  /** A pair is applied once its files were unchanged for this long (still being written otherwise). Default 300 ms. */
  debounceMs?: number;
}

/** A diff's touched files, or why it is refused before it is tried. */
export type PatchFilesResult = { ok: true; files: string[] } | { ok: false; reason: string };

/** Diffs bigger than this are refused unread. */
const maxPatchBytes = 10 * 1024 * 1024;
/** Characters of test output kept in a reason. */
const outputTail = 2000;

/**
 * Applies signed patches to the install, one at a time: a second `apply` waits for the one running to finish,
 * so patches go in call order and each worktree starts from the install as the previous patch left it.
 */
export class PatchApplier {
  readonly #installDir: string;
  readonly #workDir: string;
  readonly #trustedKey: PatchApplierOptions["trustedKey"];
  readonly #testCommand: readonly string[];
  readonly #testTimeoutMs: number;
  readonly #testMemoryMb: number;
  readonly #health: PatchApplierOptions["health"];
  readonly #healthWindowMs: number;
  readonly #healthIntervalMs: number;
  readonly #switchIn: NonNullable<PatchApplierOptions["switchIn"]>;
  readonly #audit: AuditSink;
  readonly #now: () => Date;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: PatchApplierOptions) {
    this.#installDir = path.resolve(options.installDir);
    this.#workDir = path.resolve(options.workDir);
    this.#trustedKey = options.trustedKey;
    this.#testCommand = options.testCommand ?? ["npx", "vitest", "run"];
    this.#testTimeoutMs = positive("testTimeoutMs", options.testTimeoutMs ?? 10 * 60_000);
    this.#testMemoryMb = positive("testMemoryMb", options.testMemoryMb ?? 4096);
    this.#health = options.health;
    this.#healthWindowMs = positive("healthWindowMs", options.healthWindowMs ?? 5000, true);
    this.#healthIntervalMs = positive("healthIntervalMs", options.healthIntervalMs ?? 500);
    this.#switchIn = options.switchIn ?? (() => Promise.resolve());
    this.#audit = options.audit;
    this.#now = options.now ?? (() => new Date());
    if (this.#testCommand.length === 0) throw new TypeError("testCommand must name a program");
    if (!Number.isInteger(this.#testMemoryMb)) throw new TypeError("testMemoryMb must be an integer");
  }

  /** Checks, tests and switches in one patch. Never throws for a bad patch: the outcome says what happened. */
  apply(request: PatchRequest): Promise<PatchOutcome> {
    const run = this.#queue.then(() => this.#apply(request));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Applies each `<name>.diff` dropped into `folder` once its `<name>.diff.asc` is there too, then moves both into
   * `folder/processed/` (or `folder/refused/` when refused). A diff whose signature has not come after
   * `signatureGraceMs` is tried unsigned (so refused and audited). File events start a scan after `debounceMs`;
   * a poll every `pollIntervalMs` catches what the events miss. The returned function stops watching and
   * resolves when the patch being applied, if any, is done.
   */
  watch(
    folder: string,
    onOutcome: (outcome: PatchOutcome, diffFile: string) => void,
    options: PatchWatchOptions = {},
  ): () => Promise<void> {
    const { signatureGraceMs = 60_000, pollIntervalMs = 2000, debounceMs = 300 } = options;
    const dir = path.resolve(folder);
    mkdirSync(dir, { recursive: true });
    /** Per diff: when it was first seen and the sizes and times of the pair at the last scan. */
    const seen = new Map<string, { firstSeen: number; stamp: string }>();
    /** Diffs applied whose files could not be moved aside: never applied twice. */
    const handled = new Map<string, string>();
    let disposed = false;
    let scanning: Promise<void> = Promise.resolve();
    let debounce: NodeJS.Timeout | undefined;

    const enqueue = () => {
      scanning = scanning.then(scan).catch(() => undefined);
    };
    const schedule = (delay: number) => {
      if (disposed) return;
      clearTimeout(debounce);
      debounce = setTimeout(enqueue, delay);
    };
    const scan = async () => {
      if (disposed) return;
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        return;
      }
      let waiting = false;
      for (const name of names.filter((n) => n.endsWith(".diff"))) {
        if (disposed) return;
        const diffFile = path.join(dir, name);
        const signatureFile = `${diffFile}.asc`;
        const stamp = await stampOf(diffFile, signatureFile);
        if (stamp === undefined || handled.get(name) === stamp) continue;
        const clock = performance.now();
        const prior = seen.get(name);
        if (prior?.stamp !== stamp) {
          seen.set(name, { firstSeen: prior?.firstSeen ?? clock, stamp });
          waiting = true;
          continue;
        }
        if (stamp.endsWith("|none") && clock - prior.firstSeen < signatureGraceMs) {
          waiting = true;
          continue;
        }
        seen.delete(name);
        const outcome = await this.apply({ diffFile, signatureFile });
        handled.set(name, stamp);
        await moveAside(dir, name, outcome.status === "refused" ? "refused" : "processed", outcome.id).then(
          () => handled.delete(name),
          () => undefined,
        );
        try {
          onOutcome(outcome, diffFile);
        } catch {
          // The caller's handler must not stop the watch.
        }
      }
      for (const map of [seen, handled])
        for (const name of map.keys()) if (!names.includes(name)) map.delete(name);
      if (waiting) schedule(debounceMs);
    };

    let watcher: FSWatcher | undefined;
    try {
      watcher = watchFolder(dir, () => schedule(debounceMs));
      watcher.on("error", () => watcher?.close());
    } catch {
      // The poll still finds the files.
    }
    const poll = setInterval(enqueue, pollIntervalMs);
    schedule(0);
    return async () => {
      disposed = true;
      clearTimeout(debounce);
      clearInterval(poll);
      watcher?.close();
      await scanning;
    };
  }

  async #apply(request: PatchRequest): Promise<PatchOutcome> {
    const started = performance.now();
    const id = patchId(this.#now());
    const steps: PatchStep[] = [];
    let files: string[] = [];
    let rollbackMs: number | undefined;
    const target = path.basename(request.diffFile);

    const record = (step: PatchStepName, ok: boolean, detail: string, since: number) => {
      const ms = Math.round(performance.now() - since);
      steps.push({ step, ok, detail, ms });
      this.#audit.record({
        type: "repair.patch",
        target: id,
        outcome: ok ? "ok" : step === "verify" || step === "parse" ? "denied" : "error",
        details: { diff: target, step, ok, detail: clip(detail, 1000), ms },
      });
    };
    const finish = (status: PatchStatus, reason: string): PatchOutcome => {
      const durationMs = Math.round(performance.now() - started);
      const outcome: PatchOutcome = {
        id,
        status,
        reason,
        files,
        steps,
        ...(rollbackMs === undefined ? {} : { rollbackMs }),
        durationMs,
      };
      this.#audit.record({
        type: "repair.patch",
        target: id,
        outcome: status === "applied" ? "ok" : status === "refused" ? "denied" : "error",
        details: {
          diff: target,
          step: "outcome",
          status,
          reason: clip(reason, 1000),
          files,
          durationMs,
          ...(rollbackMs === undefined ? {} : { rollbackMs }),
        },
      });
      return outcome;
    };
    const fail = (step: PatchStepName, status: PatchStatus, reason: string, since: number) => {
      record(step, false, reason, since);
      return finish(status, reason);
    };

    // 1. The signature, over the exact bytes that are applied later (a verified copy, not the dropped file).
    let since = performance.now();
    const verified = await this.#verify(request);
    if (!verified.ok) return fail("verify", "refused", verified.reason, since);
    record("verify", true, `signed by the trusted key ${verified.fingerprint}`, since);

    // 2. What it touches.
    since = performance.now();
    const parsed = parsePatchFiles(verified.bytes.toString("utf8"));
    if (!parsed.ok) return fail("parse", "refused", parsed.reason, since);
    files = parsed.files;
    for (const test of request.tests ?? []) {
      const problem = pathProblem(test);
      if (problem !== undefined || test.startsWith("-")) {
        return fail("parse", "refused", `test ${JSON.stringify(test)}: ${problem ?? "not a file"}`, since);
      }
    }
    record("parse", true, `${files.length} file(s): ${files.join(", ")}`, since);

    await mkdir(this.#workDir, { recursive: true });
    const patchFile = path.join(this.#workDir, `${id}.diff`);
    await writeFile(patchFile, verified.bytes, { mode: 0o600 });
    try {
      // 3 and 4. A worktree, the patch in it, the tests; the worktree goes whatever they did.
      const tried = await this.#tryInWorktree(id, patchFile, request.tests ?? [], record);
      if (!tried.ok) return finish(tried.status, tried.reason);

      // 5. The switch.
      since = performance.now();
      const check = await git(this.#installDir, ["apply", "--check", patchFile]);
      if (!check.ok) {
        return fail("switch", "refused", `does not apply to the install: ${check.message}`, since);
      }
      let snapshot: Snapshot;
      try {
        snapshot = await takeSnapshot(this.#installDir, files, path.join(this.#workDir, `snapshot-${id}`));
      } catch (error) {
        return fail("switch", "refused", `could not snapshot the install: ${describe(error)}`, since);
      }
      const applied = await git(this.#installDir, ["apply", patchFile]);
      let problem: string | undefined;
      if (!applied.ok) problem = `git apply failed on the install: ${applied.message}`;
      else {
        try {
          await this.#switchIn(files);
        } catch (error) {
          problem = `switch-in failed: ${describe(error)}`;
        }
      }
      if (problem === undefined) {
        record("switch", true, `applied to the install; snapshot in ${snapshot.dir}`, since);
        since = performance.now();
        const health = await this.#watchHealth();
        if (health.ok) {
          record("health", true, health.detail, since);
          return finish("applied", `applied; ${health.detail}`);
        }
        record("health", false, health.detail, since);
        problem = `health degraded after the switch: ${health.detail}`;
      } else {
        record("switch", false, problem, since);
      }

      since = performance.now();
      const failures: string[] = [];
      try {
        await restoreSnapshot(this.#installDir, snapshot);
      } catch (error) {
        failures.push(`restoring the snapshot failed: ${describe(error)}`);
      }
      try {
        await this.#switchIn(files);
      } catch (error) {
        failures.push(`switch-in after the restore failed: ${describe(error)}`);
      }
      rollbackMs = Math.round(performance.now() - since);
      if (failures.length === 0) await rm(snapshot.dir, { recursive: true, force: true });
      const restored = failures.length === 0;
      record(
        "rollback",
        restored,
        restored
          ? `restored ${files.length} file(s) in ${rollbackMs} ms`
          : `${failures.join("; ")}; the snapshot is kept in ${snapshot.dir}`,
        since,
      );
      return finish("rolled_back", restored ? problem : `${problem}; ${failures.join("; ")}`);
    } finally {
      await rm(patchFile, { force: true });
    }
  }

  async #verify(
    request: PatchRequest,
  ): Promise<{ ok: true; bytes: Buffer; fingerprint: string } | { ok: false; reason: string }> {
    let key: TrustedKey | undefined;
    try {
      key = await this.#trustedKey();
    } catch (error) {
      return { ok: false, reason: `the trusted key is unusable: ${describe(error)}` };
    }
    if (key === undefined) return { ok: false, reason: "no trusted key; run sarai keys init" };
    let bytes: Buffer;
    try {
      if ((await stat(request.diffFile)).size > maxPatchBytes) {
        return { ok: false, reason: `the diff is larger than ${maxPatchBytes} bytes` };
      }
      bytes = await readFile(request.diffFile);
    } catch (error) {
      return { ok: false, reason: `cannot read the diff: ${describe(error)}` };
    }
    let signature: Buffer;
    try {
      signature = await readFile(request.signatureFile);
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
      return {
        ok: false,
        reason: missing
          ? `missing: no signature ${path.basename(request.signatureFile)}; sign the diff with \`sarai keys sign\``
          : `missing: cannot read the signature (${describe(error)})`,
      };
    }
    const text = signature.toString("utf8");
    const check = await verifyBytes(
      new Uint8Array(bytes),
      text.trimStart().startsWith("-----BEGIN") ? text : new Uint8Array(signature),
      key,
    );
    return check.ok
      ? { ok: true, bytes, fingerprint: check.fingerprint }
      : { ok: false, reason: `${check.reason}: ${check.message}` };
  }

  async #tryInWorktree(
    id: string,
    patchFile: string,
    tests: readonly string[],
    record: (step: PatchStepName, ok: boolean, detail: string, since: number) => void,
  ): Promise<{ ok: true } | { ok: false; status: PatchStatus; reason: string }> {
    const worktree = path.join(this.#workDir, `wt-${id}`);
    let since = performance.now();
    const added = await git(this.#installDir, ["worktree", "add", "--detach", worktree, "HEAD"]);
    if (!added.ok) {
      const reason = `could not create a worktree: ${added.message}`;
      record("worktree", false, reason, since);
      await this.#removeWorktree(worktree, record);
      return { ok: false, status: "refused", reason };
    }
    try {
      await mirrorUncommitted(this.#installDir, worktree);
      await linkNodeModules(this.#installDir, worktree);
      const check = await git(worktree, ["apply", "--check", patchFile]);
      const applied = check.ok ? await git(worktree, ["apply", patchFile]) : check;
      if (!applied.ok) {
        const reason = `does not apply: ${applied.message}`;
        record("worktree", false, reason, since);
        return { ok: false, status: "refused", reason };
      }
      record("worktree", true, `applied in ${worktree}`, since);

      since = performance.now();
      const tested = await this.#runTests(worktree, tests);
      record("test", tested.ok, tested.detail, since);
      return tested.ok ? { ok: true } : { ok: false, status: "tests_failed", reason: tested.detail };
    } catch (error) {
      const reason = `preparing the worktree failed: ${describe(error)}`;
      record("worktree", false, reason, since);
      return { ok: false, status: "refused", reason };
    } finally {
      await this.#removeWorktree(worktree, record);
    }
  }

  /**
   * The tests run under bubblewrap: the whole file system read-only, the install too, no network, a private
   * /tmp (HOME and the npm cache point there). The worktree is the one writable place: it is a throwaway copy,
   * and Vite writes its bundled config and caches under `node_modules/` and the reports under `.cache/`.
   * Memory: RLIMIT_DATA per process (see `SandboxRunOptions.memoryMb`) plus `--max-old-space-size` so Node
   * reports a heap overrun itself before the kernel refuses an allocation.
   */
  async #runTests(worktree: string, tests: readonly string[]): Promise<{ ok: boolean; detail: string }> {
    if (!sandboxAvailable()) return { ok: false, detail: "bubblewrap is not installed" };
    const installDir = await realpath(this.#installDir);
    const root = await realpath(worktree);
    const result = await runSandboxed({
      command: [...this.#testCommand, ...tests],
      chdir: root,
      binds: [{ path: installDir }, { path: root, writable: true }],
      env: {
        PATH: `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
        HOME: "/tmp",
        TMPDIR: "/tmp",
        CI: "1",
        NO_COLOR: "1",
        NODE_OPTIONS: `--max-old-space-size=${Math.max(64, Math.floor((this.#testMemoryMb * 3) / 4))}`,
        npm_config_cache: "/tmp/.npm",
        npm_config_update_notifier: "false",
      },
      timeoutMs: this.#testTimeoutMs,
      memoryMb: this.#testMemoryMb,
      maxOutputBytes: 256 * 1024,
    });
    const output = tail(`${result.stdout}${result.stderr === "" ? "" : `\n${result.stderr}`}`.trim());
    if (result.timedOut) {
      return { ok: false, detail: `tests timed out after ${this.#testTimeoutMs} ms: ${output}` };
    }
    if (result.code !== 0) {
      return { ok: false, detail: `tests failed (exit ${result.code ?? "killed"}): ${output}` };
    }
    return { ok: true, detail: `tests passed: ${output}` };
  }

  async #removeWorktree(
    worktree: string,
    record: (step: PatchStepName, ok: boolean, detail: string, since: number) => void,
  ): Promise<void> {
    const since = performance.now();
    // The link first: nothing may follow it into the install's packages.
    await rm(path.join(worktree, "node_modules"), { recursive: true, force: true }).catch(() => undefined);
    const removed = await git(this.#installDir, ["worktree", "remove", "--force", worktree]);
    // The tests could write in the worktree (its `.git` file too), so it is deleted outright when git will not.
    await rm(worktree, { recursive: true, force: true }).catch(() => undefined);
    const pruned = await git(this.#installDir, ["worktree", "prune"]);
    const ok = pruned.ok;
    record(
      "cleanup",
      ok,
      ok
        ? `removed ${path.basename(worktree)}${removed.ok ? "" : ` (deleted; git said: ${removed.message})`}`
        : `git worktree prune failed: ${pruned.message}`,
      since,
    );
  }

  async #watchHealth(): Promise<PatchHealth> {
    const started = performance.now();
    for (let checks = 1; ; checks++) {
      const result = await withTimeout(this.#health(), this.#healthWindowMs + this.#healthIntervalMs).catch(
        (error: unknown): PatchHealth => ({
          ok: false,
          detail: `the health check threw: ${describe(error)}`,
        }),
      );
      if (!result.ok) return { ok: false, detail: `check ${checks}: ${result.detail}` };
      const left = this.#healthWindowMs - (performance.now() - started);
      if (left <= 0) {
        return {
          ok: true,
          detail: `healthy in ${checks} check(s) over ${this.#healthWindowMs} ms (${result.detail})`,
        };
      }
      await sleep(Math.min(this.#healthIntervalMs, left));
    }
  }
}

/**
 * The files a git diff touches, refusing what a patch must not do: paths outside the install (absolute, `..`),
 * anything under `.git/` or `node_modules/`, binary patches, symbolic links and submodules, quoted (unusual)
 * names, and text that is not a git diff.
 */
export function parsePatchFiles(text: string): PatchFilesResult {
  const lines = text.split("\n");
  if (text.endsWith("\n")) lines.pop();
  const touched = new Set<string>();
  let sections = 0;
  let section: string[] | undefined;
  let oldLeft = 0;
  let newLeft = 0;
  const close = (): string | undefined => {
    if (section === undefined) return undefined;
    const names = section.filter((name) => name !== "");
    if (names.length === 0) return "a file section names no file";
    for (const name of names) {
      const problem = pathProblem(name);
      if (problem !== undefined) return `refused ${JSON.stringify(name)}: ${problem}`;
      touched.add(name);
    }
    return undefined;
  };
  const fail = (reason: string): PatchFilesResult => ({ ok: false, reason });

  for (const [index, line] of lines.entries()) {
    if (oldLeft > 0 || newLeft > 0) {
      const mark = line[0];
      if (mark === "\\") continue;
      if (mark === " " || line === "") {
        oldLeft--;
        newLeft--;
      } else if (mark === "-") oldLeft--;
      else if (mark === "+") newLeft--;
      else return fail(`malformed hunk at line ${index + 1}`);
      if (oldLeft < 0 || newLeft < 0) return fail(`malformed hunk at line ${index + 1}`);
      continue;
    }
    if (line.startsWith("diff --git ")) {
      const problem = close();
      if (problem !== undefined) return fail(problem);
      sections++;
      const rest = line.slice("diff --git ".length);
      if (rest.startsWith('"')) return fail("quoted file names (unusual characters) are refused");
      section = [headerPath(rest) ?? ""];
      continue;
    }
    if (section === undefined) {
      if (/^(--- |\+\+\+ |@@ )/.test(line))
        return fail("not a git diff: a file comes without a `diff --git` line");
      continue; // a preamble, such as the message `git format-patch` writes
    }
    if (line.startsWith("@@ ")) {
      const hunk = /^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@/.exec(line);
      if (hunk === null) return fail(`malformed hunk header at line ${index + 1}`);
      oldLeft = Number(hunk[1] ?? 1);
      newLeft = Number(hunk[2] ?? 1);
    } else if (line.startsWith("--- ") || line.startsWith("+++ ")) {
      const name = line.slice(4);
      if (name === "/dev/null") continue;
      if (name.startsWith('"')) return fail("quoted file names (unusual characters) are refused");
      const prefix = line.startsWith("---") ? "a/" : "b/";
      if (!name.startsWith(prefix)) return fail(`${JSON.stringify(name)} lacks the ${prefix} prefix`);
      section.push(name.slice(2));
    } else if (/^(rename|copy) (from|to) /.test(line)) {
      const name = line.replace(/^(rename|copy) (from|to) /, "");
      if (name.startsWith('"')) return fail("quoted file names (unusual characters) are refused");
      section.push(name);
    } else if (line.startsWith("GIT binary patch") || line.startsWith("Binary files ")) {
      return fail("binary patches are refused");
    } else if (
      /^(new file mode|deleted file mode|old mode|new mode|index [0-9a-f]+\.\.[0-9a-f]+) /.test(line)
    ) {
      const mode = /(\d{6})$/.exec(line)?.[1];
      if (mode !== undefined && mode !== "100644" && mode !== "100755") {
        return fail(`mode ${mode} (a symbolic link or a submodule) is refused`);
      }
    }
  }
  if (oldLeft > 0 || newLeft > 0) return fail("the last hunk is cut short");
  const problem = close();
  if (problem !== undefined) return fail(problem);
  if (sections === 0) return fail("not a git diff (no `diff --git` line)");
  return { ok: true, files: [...touched] };
}

/** Why a patch path is not a plain path inside the install, or undefined when it is. */
function pathProblem(name: string): string | undefined {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (name === "" || /[\u0000-\u001f\u007f\\]/.test(name)) return "an empty name or unusual characters";
  if (name.startsWith("/")) return "an absolute path escapes the install";
  const parts = name.split("/");
  if (parts.some((part) => part === ".." || part === "." || part === ""))
    return "the path escapes the install";
  if (parts.some((part) => part.toLowerCase() === ".git")) return "the patch may not touch .git/";
  if (parts[0] === "node_modules") return "the patch may not touch node_modules/";
  return undefined;
}

/** `a/X b/X` → X; undefined when the two sides differ (a rename: its own lines name both). */
function headerPath(rest: string): string | undefined {
  const length = (rest.length - 5) / 2;
  if (!Number.isInteger(length) || length <= 0 || !rest.startsWith("a/")) return undefined;
  const left = rest.slice(2, 2 + length);
  return rest.slice(2 + length, 5 + length) === " b/" && rest.slice(5 + length) === left ? left : undefined;
}

interface Snapshot {
  dir: string;
  entries: { file: string; bytes?: Buffer; mode?: number; createdDirs: string[] }[];
}

/** The bytes and modes (or absence) of `files`, kept in memory and written to `dir` for a manual restore. */
async function takeSnapshot(root: string, files: readonly string[], dir: string): Promise<Snapshot> {
  const entries: Snapshot["entries"] = [];
  for (const file of files) {
    const absolute = path.join(root, file);
    try {
      const info = await lstat(absolute);
      entries.push({ file, bytes: await readFile(absolute), mode: info.mode & 0o7777, createdDirs: [] });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      // The folders the patch will have to create, deepest first, so a rollback removes them too.
      const createdDirs: string[] = [];
      for (let parent = path.dirname(absolute); parent !== root; parent = path.dirname(parent)) {
        if (await exists(parent)) break;
        createdDirs.push(parent);
      }
      entries.push({ file, createdDirs });
    }
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const manifest = entries.map((entry) => ({
    file: entry.file,
    mode: entry.mode,
    base64: entry.bytes?.toString("base64"),
  }));
  await writeFile(path.join(dir, "snapshot.json"), JSON.stringify({ root, files: manifest }), {
    mode: 0o600,
  });
  return { dir, entries };
}

async function restoreSnapshot(root: string, snapshot: Snapshot): Promise<void> {
  const createdDirs = new Set<string>();
  for (const entry of snapshot.entries) {
    const absolute = path.join(root, entry.file);
    if (entry.bytes === undefined) {
      await rm(absolute, { recursive: true, force: true });
      for (const dir of entry.createdDirs) createdDirs.add(dir);
      continue;
    }
    await mkdir(path.dirname(absolute), { recursive: true });
    // A patch may have put a folder or a link where the file was.
    const info = await lstat(absolute).catch(() => undefined);
    if (info !== undefined && !info.isFile()) await rm(absolute, { recursive: true, force: true });
    await writeFile(absolute, entry.bytes);
    await chmod(absolute, entry.mode ?? 0o644);
  }
  // Deepest first; a folder something else was put in since stays.
  for (const dir of [...createdDirs].sort((a, b) => b.length - a.length))
    await rmdir(dir).catch(() => undefined);
}

/** Copies the install's uncommitted changes (modified, untracked and not ignored, deleted) into the worktree. */
async function mirrorUncommitted(installDir: string, worktree: string): Promise<void> {
  const listed = await git(installDir, ["ls-files", "-z", "--modified", "--others", "--exclude-standard"]);
  if (!listed.ok) throw new Error(`git ls-files failed: ${listed.message}`);
  const names = listed.stdout
    .split("\0")
    .filter((name) => name !== "" && name.split("/")[0] !== "node_modules");
  for (const file of new Set(names)) {
    const from = path.join(installDir, file);
    const to = path.join(worktree, file);
    const info = await lstat(from).catch(() => undefined);
    await rm(to, { recursive: true, force: true });
    if (info === undefined) continue; // deleted in the install
    await mkdir(path.dirname(to), { recursive: true });
    if (info.isSymbolicLink()) await symlink(await readlink(from), to);
    else if (info.isFile()) {
      await copyFile(from, to);
      await chmod(to, info.mode & 0o7777);
    }
  }
}

/**
 * Gives the worktree the install's packages: a real `node_modules/` folder of links to each of the install's
 * entries, so packages resolve to the install's (read-only in the sandbox) while the caches tools write there
 * (`.vite`, `.vite-temp`, `.cache`) land in the throwaway worktree.
 */
async function linkNodeModules(installDir: string, worktree: string): Promise<void> {
  const source = path.join(installDir, "node_modules");
  let entries: string[];
  try {
    entries = await readdir(source);
  } catch {
    return;
  }
  const target = path.join(worktree, "node_modules");
  // Never through a link (a committed or copied `node_modules` link would lead into the install's packages).
  await rm(target, { recursive: true, force: true });
  await mkdir(target);
  for (const entry of entries) {
    if (entry === ".vite" || entry === ".vite-temp" || entry === ".cache") continue;
    await symlink(path.join(source, entry), path.join(target, entry));
  }
}

/** The sizes and times of a diff and its signature; undefined when the diff is gone. */
async function stampOf(diffFile: string, signatureFile: string): Promise<string | undefined> {
  const diff = await stat(diffFile).catch(() => undefined);
  if (diff === undefined || !diff.isFile()) return undefined;
  const signature = await stat(signatureFile).catch(() => undefined);
  const signed = signature === undefined ? "none" : `${signature.size}:${signature.mtimeMs}`;
  return `${diff.size}:${diff.mtimeMs}|${signed}`;
}

async function moveAside(
  dir: string,
  name: string,
  into: "processed" | "refused",
  id: string,
): Promise<void> {
  const target = path.join(dir, into);
  await mkdir(target, { recursive: true });
  const base = (await exists(path.join(target, name)))
    ? `${name.slice(0, -".diff".length)}-${id}.diff`
    : name;
  for (const [from, to] of [
    [name, base],
    [`${name}.asc`, `${base}.asc`],
  ] as const) {
    await rename(path.join(dir, from), path.join(target, to)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
    });
  }
}

interface GitResult {
  ok: boolean;
  stdout: string;
  /** git's stderr, or the error when it could not run. */
  message: string;
}

function git(cwd: string, args: readonly string[]): Promise<GitResult> {
  return new Promise((resolve) => {
    execFile("git", ["-C", cwd, ...args], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const message = stderr.trim() || (error === null ? "" : error.message);
      resolve({ ok: error === null, stdout, message });
    });
  });
}

function patchId(date: Date): string {
  const time = date
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `${time}-${randomBytes(3).toString("hex")}`;
}

function positive(name: string, value: number, zeroAllowed = false): number {
  if (!Number.isFinite(value) || value < 0 || (!zeroAllowed && value === 0)) {
    throw new TypeError(`${name} must be a positive number of ${name.endsWith("Mb") ? "MiB" : "ms"}`);
  }
  return value;
}

async function exists(file: string): Promise<boolean> {
  return (await lstat(file).catch(() => undefined)) !== undefined;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function tail(text: string): string {
  return text.length <= outputTail ? text : `…${text.slice(-outputTail)}`;
}

function clip(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length)}…`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Where the snapshot of patch `id` is kept (`<workDir>/snapshot-<id>`): after an applied patch, until confirmed. */
export function snapshotDirFor(workDir: string, id: string): string {
  return path.join(workDir, `snapshot-${id}`);
}

/**
 * Restores the install from a snapshot written by an apply (its `snapshot.json`): the bytes and modes of the
 * files as they were, files the patch created removed. Used to roll back a patch after a restart, when the
 * in-memory snapshot is gone. Returns the files restored.
 */
export async function restoreSnapshotDir(dir: string): Promise<string[]> {
  const manifest = JSON.parse(await readFile(path.join(dir, "snapshot.json"), "utf8")) as {
    root: string;
    files: { file: string; mode?: number; base64?: string }[];
  };
  await restoreSnapshot(manifest.root, {
    dir,
    entries: manifest.files.map((entry) => ({
      file: entry.file,
      ...(entry.base64 === undefined ? {} : { bytes: Buffer.from(entry.base64, "base64") }),
      ...(entry.mode === undefined ? {} : { mode: entry.mode }),
      createdDirs: [],
    })),
  });
  return manifest.files.map((entry) => entry.file);
}
