import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog, loadTrustedKey, tailAuditLog, verifyAuditLog } from "../security/index.js";
import type { SigningKey, TrustedKey } from "../security/index.js";
import {
  appliedSteps,
  createGitInstall,
  createPatchKeys,
  git,
  modify,
  writeSignedPatch,
} from "../../test/repair-fixtures.js";
import { parsePatchFiles, PatchApplier } from "./patch-applier.js";
import type { PatchApplierOptions, PatchOutcome } from "./patch-applier.js";

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

let root: string;
let trusted: TrustedKey;
let signer: SigningKey;
let otherSigner: SigningKey;
let publicKeyFile: string;
let auditDir: string;
let auditKey: Buffer;
let audit: AuditLog;
let counter = 0;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "sarai-patch-"));
  ({ signer, otherSigner, publicKeyFile } = await createPatchKeys(root));
  trusted = (await loadTrustedKey(publicKeyFile)) as TrustedKey;
  auditDir = path.join(root, "audit");
  auditKey = randomBytes(32);
  audit = AuditLog.open({ dir: auditDir, key: auditKey });
});

afterAll(async () => {
  audit.close();
  await rm(root, { recursive: true, force: true });
});

/** A fresh install: a git checkout with value.txt = "1" and its check. */
async function makeInstall(): Promise<string> {
  const dir = path.join(root, `install-${++counter}`);
  await createGitInstall(dir, { "notes.txt": "-- a line that starts with dashes\nsecond\n" });
  return dir;
}

function create(file: string, lines: readonly string[]): string {
  const body = lines.map((line) => `+${line}\n`).join("");
  return `diff --git a/${file} b/${file}\nnew file mode 100644\n--- /dev/null\n+++ b/${file}\n@@ -0,0 +1,${lines.length} @@\n${body}`;
}

/** Writes a diff into its own folder and signs it (with `key`, or not at all). */
function writePatch(text: string, key: SigningKey | null = signer): Promise<string> {
  return writeSignedPatch(root, text, key);
}

function applierFor(install: string, options: Partial<PatchApplierOptions> = {}): PatchApplier {
  return new PatchApplier({
    installDir: install,
    workDir: path.join(root, "work", path.basename(install)),
    trustedKey: () => Promise.resolve(trusted),
    testCommand: ["node", "check.mjs"],
    testTimeoutMs: 30_000,
    testMemoryMb: 1024,
    health: () => Promise.resolve({ ok: true, detail: "fine" }),
    healthWindowMs: 200,
    healthIntervalMs: 50,
    audit,
    ...options,
  });
}

function apply(applier: PatchApplier, diffFile: string, tests?: string[]): Promise<PatchOutcome> {
  return applier.apply({
    diffFile,
    signatureFile: `${diffFile}.asc`,
    ...(tests === undefined ? {} : { tests }),
  });
}

/** Every file of the install but .git, with its bytes: to compare before and after. */
async function contents(dir: string): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    const relative = path.relative(dir, full);
    if (relative === ".git" || relative.startsWith(`.git${path.sep}`)) continue;
    found[relative] = entry.isDirectory() ? "<dir>" : (await readFile(full)).toString("base64");
  }
  return found;
}

function auditOf(id: string) {
  return tailAuditLog(auditDir, 10_000, "repair.patch").filter((entry) => entry.target === id);
}

describe("repair", () => {
  describe("patch applier", () => {
    describe("apply", () => {
      it("applies a good signed patch after its tests pass, uncommitted, and audits every step", async () => {
        const install = await makeInstall();
        const switched: (readonly string[])[] = [];
        const applier = applierFor(install, {
          switchIn: (files) => {
            switched.push(files);
            return Promise.resolve();
          },
        });
        const outcome = await apply(applier, await writePatch(modify("value.txt", "1", "2")), [
          "extra.test.ts",
        ]);

        expect(outcome).toMatchObject({ status: "applied", files: ["value.txt"] });
        expect(outcome.steps.map((s) => [s.step, s.ok])).toEqual(appliedSteps);
        // The tests saw the patched file and the named subset.
        expect(outcome.steps.find((s) => s.step === "test")?.detail).toContain("value=2 args=extra.test.ts");
        await expect(readFile(path.join(install, "value.txt"), "utf8")).resolves.toBe("2\n");
        expect(git(install, "status", "--porcelain")).toBe(" M value.txt\n");
        expect(switched).toEqual([["value.txt"]]);
        // The worktree and the patch copy are gone; git no longer lists the worktree.
        expect(git(install, "worktree", "list").trim().split("\n")).toHaveLength(1);
        const work = await readdir(path.join(root, "work", path.basename(install)));
        expect(work.filter((name) => name.startsWith("wt-") || name.endsWith(".diff"))).toEqual([]);

        const entries = auditOf(outcome.id);
        expect(entries.map((e) => e.details?.step)).toEqual([...outcome.steps.map((s) => s.step), "outcome"]);
        expect(entries.at(-1)).toMatchObject({ outcome: "ok", details: { status: "applied" } });
        expect(verifyAuditLog({ dir: auditDir, key: auditKey }).ok).toBe(true);
      });

      it("refuses an unsigned patch", async () => {
        const install = await makeInstall();
        const outcome = await apply(
          applierFor(install),
          await writePatch(modify("value.txt", "1", "2"), null),
        );
        expect(outcome.status).toBe("refused");
        expect(outcome.reason).toMatch(/^missing: no signature fix\.diff\.asc/);
        expect(auditOf(outcome.id).map((e) => [e.details?.step, e.outcome])).toEqual([
          ["verify", "denied"],
          ["outcome", "denied"],
        ]);
        await expect(readFile(path.join(install, "value.txt"), "utf8")).resolves.toBe("1\n");
      });

      it("refuses a patch signed by another key", async () => {
        const install = await makeInstall();
        const outcome = await apply(
          applierFor(install),
          await writePatch(modify("value.txt", "1", "2"), otherSigner),
        );
        expect(outcome.status).toBe("refused");
        expect(outcome.reason).toMatch(/^untrusted_key: /);
      });

      it("refuses a diff changed after it was signed", async () => {
        const install = await makeInstall();
        const diffFile = await writePatch(modify("value.txt", "1", "2"));
        await writeFile(diffFile, modify("value.txt", "1", "3"));
        const outcome = await apply(applierFor(install), diffFile);
        expect(outcome.status).toBe("refused");
        expect(outcome.reason).toMatch(/^mismatch: /);
        await expect(readFile(path.join(install, "value.txt"), "utf8")).resolves.toBe("1\n");
      });

      it("refuses a malformed signature and a missing trusted key", async () => {
        const install = await makeInstall();
        const diffFile = await writePatch(modify("value.txt", "1", "2"), null);
        await writeFile(
          `${diffFile}.asc`,
          "-----BEGIN PGP SIGNATURE-----\n\nnot really\n-----END PGP SIGNATURE-----\n",
        );
        expect((await apply(applierFor(install), diffFile)).reason).toMatch(/^malformed: /);
        const keyless = applierFor(install, { trustedKey: () => Promise.resolve(undefined) });
        const outcome = await apply(keyless, await writePatch(modify("value.txt", "1", "2")));
        expect(outcome).toMatchObject({ status: "refused", reason: "no trusted key; run sarai keys init" });
      });

      it.each([
        ["a path with ..", modify("../outside.txt", "1", "2"), /escapes the install/],
        ["an absolute path", create("/tmp/outside.txt", ["x"]), /escape/],
        ["a file under .git/", create(".git/hooks/post-checkout", ["#!/bin/sh"]), /may not touch \.git/],
        [
          "a binary patch",
          "diff --git a/blob.bin b/blob.bin\nnew file mode 100644\nindex 0000000..1234567\nGIT binary patch\nliteral 1\nIcmZo*00031\n\nliteral 0\nHcmV?d00001\n",
          /binary patches are refused/,
        ],
        [
          "a symbolic link",
          "diff --git a/link b/link\nnew file mode 120000\n--- /dev/null\n+++ b/link\n@@ -0,0 +1 @@\n+/etc/passwd\n\\ No newline at end of file\n",
          /symbolic link/,
        ],
        ["text that is no git diff", "--- value.txt\n+++ value.txt\n@@ -1 +1 @@\n-1\n+2\n", /not a git diff/],
      ])("refuses %s before creating a worktree", async (_name, diff, reason) => {
        const install = await makeInstall();
        const before = await contents(install);
        const outcome = await apply(applierFor(install), await writePatch(diff));
        expect(outcome.status).toBe("refused");
        expect(outcome.reason).toMatch(reason);
        expect(outcome.steps.map((s) => s.step)).toEqual(["verify", "parse"]);
        expect(await contents(install)).toEqual(before);
        expect(existsSync(path.join(path.dirname(install), "outside.txt"))).toBe(false);
      });

      it("refuses a patch that does not apply, with git's message", async () => {
        const install = await makeInstall();
        const outcome = await apply(applierFor(install), await writePatch(modify("value.txt", "7", "8")));
        expect(outcome.status).toBe("refused");
        expect(outcome.reason).toMatch(/^does not apply: .*patch failed: value\.txt:1/s);
        expect(outcome.steps.map((s) => [s.step, s.ok])).toEqual([
          ["verify", true],
          ["parse", true],
          ["worktree", false],
          ["cleanup", true],
        ]);
        expect(git(install, "worktree", "list").trim().split("\n")).toHaveLength(1);
      });

      it("leaves the install untouched when the patch's tests fail", async () => {
        const install = await makeInstall();
        const before = await contents(install);
        const outcome = await apply(applierFor(install), await writePatch(modify("value.txt", "1", "bad")));
        expect(outcome.status).toBe("tests_failed");
        expect(outcome.reason).toMatch(/^tests failed \(exit 1\): value=bad .*check: value is bad/s);
        expect(await contents(install)).toEqual(before);
        expect(git(install, "status", "--porcelain")).toBe("");
        expect(auditOf(outcome.id).find((e) => e.details?.step === "test")).toMatchObject({
          outcome: "error",
        });
      });

      it("stops tests that hang at the time limit", async () => {
        const install = await makeInstall();
        const before = await contents(install);
        const outcome = await apply(
          applierFor(install, { testTimeoutMs: 1500 }),
          await writePatch(modify("value.txt", "1", "hang")),
        );
        expect(outcome.status).toBe("tests_failed");
        expect(outcome.reason).toMatch(/^tests timed out after 1500 ms: value=hang/);
        expect(outcome.durationMs).toBeLessThan(10_000);
        expect(await contents(install)).toEqual(before);
      });

      it("runs the tests without network and without write access to the install or its packages", async () => {
        const install = await makeInstall();
        // An installed package: the worktree reads it through, and its caches go to the worktree.
        await mkdir(path.join(install, "node_modules", "greet"), { recursive: true });
        await writeFile(
          path.join(install, "node_modules", "greet", "package.json"),
          '{"type":"module","main":"index.js"}',
        );
        await writeFile(
          path.join(install, "node_modules", "greet", "index.js"),
          'export const hello = "hello";',
        );
        await writeFile(path.join(install, ".gitignore"), "node_modules/\n");
        let connections = 0;
        const server = createServer((socket) => {
          connections++;
          socket.destroy();
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const port = (server.address() as { port: number }).port;
        const probe = [
          'import { writeFileSync } from "node:fs";',
          'import { connect } from "node:net";',
          `try { writeFileSync(${JSON.stringify(path.join(install, "escape.txt"))}, "x"); console.log("write: allowed"); }`,
          'catch (error) { console.log("write: " + error.code); }',
          'try { writeFileSync("scratch.txt", "x"); console.log("worktree: writable"); } catch (error) { console.log("worktree: " + error.code); }',
          'const { hello } = await import("greet"); console.log("package: " + hello);',
          'try { writeFileSync("node_modules/greet/x.js", "x"); console.log("package write: allowed"); } catch (error) { console.log("package write: " + error.code); }',
          'import { mkdirSync } from "node:fs"; mkdirSync("node_modules/.vite-temp"); writeFileSync("node_modules/.vite-temp/c.mjs", ""); console.log("cache: ok");',
          `const socket = connect(${port}, "127.0.0.1");`,
          'socket.on("connect", () => { console.log("net: connected"); process.exit(1); });',
          'socket.on("error", (error) => { console.log("net: " + error.code); process.exit(0); });',
        ];
        const diff = create("probe.mjs", probe);
        try {
          const applier = applierFor(install, { testCommand: ["node", "probe.mjs"] });
          const outcome = await apply(applier, await writePatch(diff));
          const detail = outcome.steps.find((s) => s.step === "test")?.detail ?? JSON.stringify(outcome);
          expect(detail).toContain("write: EROFS");
          expect(detail).toContain("worktree: writable");
          expect(detail).toContain("package: hello");
          expect(detail).toContain("package write: EROFS");
          expect(detail).toContain("cache: ok");
          expect(detail).toMatch(/net: E[A-Z]+/);
          expect(outcome.status).toBe("applied");
          expect(connections).toBe(0);
          expect(existsSync(path.join(install, "escape.txt"))).toBe(false);
          expect(await readdir(path.join(install, "node_modules"))).toEqual(["greet"]);
          expect(await readdir(path.join(install, "node_modules", "greet"))).toEqual([
            "index.js",
            "package.json",
          ]);
        } finally {
          server.close();
        }
      });

      it("rolls back when health degrades after the switch: the install's bytes as before", async () => {
        const install = await makeInstall();
        const before = await contents(install);
        let checks = 0;
        let switches = 0;
        const applier = applierFor(install, {
          healthWindowMs: 2000,
          healthIntervalMs: 50,
          health: () =>
            Promise.resolve(++checks < 3 ? { ok: true, detail: "fine" } : { ok: false, detail: "503" }),
          switchIn: () => {
            switches++;
            return Promise.resolve();
          },
        });
        const diff = modify("value.txt", "1", "2") + create("lib/deep/new.txt", ["created"]);
        const outcome = await apply(applier, await writePatch(diff));

        expect(outcome.status).toBe("rolled_back");
        expect(outcome.reason).toBe("health degraded after the switch: check 3: 503");
        expect(outcome.files).toEqual(["value.txt", "lib/deep/new.txt"]);
        expect(outcome.rollbackMs).toBeLessThan(10_000);
        expect(switches).toBe(2);
        expect(await contents(install)).toEqual(before);
        expect(existsSync(path.join(install, "lib"))).toBe(false);
        expect(git(install, "status", "--porcelain")).toBe("");
        expect(outcome.steps.slice(-3).map((s) => [s.step, s.ok])).toEqual([
          ["switch", true],
          ["health", false],
          ["rollback", true],
        ]);
        expect(auditOf(outcome.id).at(-1)).toMatchObject({ details: { status: "rolled_back" } });
      });

      it("rolls back when the switch-in throws", async () => {
        const install = await makeInstall();
        const before = await contents(install);
        let calls = 0;
        const applier = applierFor(install, {
          switchIn: () => (++calls === 1 ? Promise.reject(new Error("restart failed")) : Promise.resolve()),
        });
        const outcome = await apply(applier, await writePatch(modify("value.txt", "1", "2")));
        expect(outcome).toMatchObject({ status: "rolled_back", reason: "switch-in failed: restart failed" });
        expect(await contents(install)).toEqual(before);
      });

      it("applies concurrent patches one after the other, each on top of the last", async () => {
        const install = await makeInstall();
        const applier = applierFor(install);
        const [first, second] = await Promise.all([
          apply(applier, await writePatch(modify("value.txt", "1", "2"))),
          apply(applier, await writePatch(modify("value.txt", "2", "3"))),
        ]);
        expect([first?.status, second?.status]).toEqual(["applied", "applied"]);
        await expect(readFile(path.join(install, "value.txt"), "utf8")).resolves.toBe("3\n");
      });

      it("refuses to run the tests without bubblewrap", async () => {
        const install = await makeInstall();
        const diffFile = await writePatch(modify("value.txt", "1", "2"));
        // A process whose PATH has node and git but no bwrap.
        const bin = path.join(root, `bin-${++counter}`);
        await mkdir(bin);
        await symlink(process.execPath, path.join(bin, "node"));
        await symlink(execFileSync("which", ["git"], { encoding: "utf8" }).trim(), path.join(bin, "git"));
        const script = path.join(root, `no-bwrap-${counter}.mts`);
        await writeFile(
          script,
          [
            `import { PatchApplier } from ${JSON.stringify(path.join(projectRoot, "src/repair/patch-applier.ts"))};`,
            `import { loadTrustedKey, noAudit } from ${JSON.stringify(path.join(projectRoot, "src/security/index.ts"))};`,
            "const applier = new PatchApplier({",
            `  installDir: ${JSON.stringify(install)}, workDir: ${JSON.stringify(path.join(root, "work-no-bwrap"))},`,
            `  trustedKey: () => loadTrustedKey(${JSON.stringify(publicKeyFile)}), testCommand: ["node", "check.mjs"],`,
            '  health: () => Promise.resolve({ ok: true, detail: "" }), healthWindowMs: 0, audit: noAudit,',
            "});",
            `const outcome = await applier.apply({ diffFile: ${JSON.stringify(diffFile)}, signatureFile: ${JSON.stringify(`${diffFile}.asc`)} });`,
            "console.log(JSON.stringify(outcome));",
          ].join("\n"),
        );
        const stdout = await new Promise<string>((resolve, reject) => {
          execFile(
            process.execPath,
            ["--import", "tsx", script],
            { cwd: projectRoot, env: { PATH: bin, HOME: root } },
            (error, out, err) =>
              error === null ? resolve(out) : reject(new Error(`${error.message}\n${err}`)),
          );
        });
        const outcome = JSON.parse(stdout) as PatchOutcome;
        expect(outcome).toMatchObject({ status: "tests_failed", reason: "bubblewrap is not installed" });
        await expect(readFile(path.join(install, "value.txt"), "utf8")).resolves.toBe("1\n");
        expect(git(install, "worktree", "list").trim().split("\n")).toHaveLength(1);
      }, 60_000);
    });

    describe("watch", () => {
      it("applies a dropped pair once and moves it to processed/; refuses a diff whose signature never came", async () => {
        const install = await makeInstall();
        const applier = applierFor(install);
        const folder = path.join(root, `drop-${++counter}`);
        const seen: [PatchOutcome, string][] = [];
        const stop = applier.watch(folder, (outcome, file) => seen.push([outcome, path.basename(file)]), {
          signatureGraceMs: 500,
          pollIntervalMs: 200,
          debounceMs: 100,
        });
        try {
          const signed = await writePatch(modify("value.txt", "1", "2"));
          await writeFile(path.join(folder, "good.diff"), await readFile(signed));
          await writeFile(path.join(folder, "good.diff.asc"), await readFile(`${signed}.asc`));
          await writeFile(path.join(folder, "lonely.diff"), modify("value.txt", "2", "3"));
          await waitFor(() => seen.length === 2, 30_000);

          const byName = Object.fromEntries(seen.map(([outcome, name]) => [name, outcome]));
          expect(byName["good.diff"]?.status).toBe("applied");
          expect(byName["lonely.diff"]).toMatchObject({ status: "refused" });
          expect(byName["lonely.diff"]?.reason).toMatch(/^missing: /);
          await expect(readFile(path.join(install, "value.txt"), "utf8")).resolves.toBe("2\n");
          expect((await readdir(folder)).sort()).toEqual(["processed", "refused"]);
          expect((await readdir(path.join(folder, "processed"))).sort()).toEqual([
            "good.diff",
            "good.diff.asc",
          ]);
          expect(await readdir(path.join(folder, "refused"))).toEqual(["lonely.diff"]);
          // Nothing is applied twice.
          await new Promise((resolve) => setTimeout(resolve, 500));
          expect(seen).toHaveLength(2);
        } finally {
          await stop();
        }
      }, 60_000);
    });

    describe("parsePatchFiles", () => {
      it("lists both sides of a rename and ignores hunk lines that look like headers", () => {
        const diff = [
          "diff --git a/old name.txt b/new name.txt",
          "similarity index 90%",
          "rename from old name.txt",
          "rename to new name.txt",
          "--- a/old name.txt",
          "+++ b/new name.txt",
          "@@ -1,2 +1,2 @@",
          "--- a/.git/config",
          "+++ b/../escape",
          " kept",
          "",
        ].join("\n");
        expect(parsePatchFiles(diff)).toEqual({ ok: true, files: ["old name.txt", "new name.txt"] });
      });

      it("refuses a cut-short hunk", () => {
        expect(parsePatchFiles(modify("value.txt", "1", "2").replace("+2\n", ""))).toEqual({
          ok: false,
          reason: "the last hunk is cut short",
        });
      });
    });
  });
});

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > timeoutMs) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
