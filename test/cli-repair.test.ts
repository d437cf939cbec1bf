import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config/index.js";
import { RepairHistory } from "../src/repair/index.js";
import type { SigningKey } from "../src/security/index.js";
import { waitFor } from "./api-helpers.js";
import { createCliRunner, expectNoStackTrace, spawnCli } from "./cli-helpers.js";
import { ensureTestModel } from "./models.js";
import { createGitInstall, createPatchKeys, git, modify, writeSignedPatch } from "./repair-fixtures.js";

describe("cli", () => {
  describe("repair", () => {
    let dataDir: string;
    let install: string;
    let signer: SigningKey;
    let otherSigner: SigningKey;
    const cli = createCliRunner(() => dataDir);
    const env = { SARAI_LOG_FILE: "false" };

    /** A diff in its own folder, signed by `key` (or not at all); returns the diff's path. */
    const writePatch = (diff: string, key: SigningKey | null) => writeSignedPatch(dataDir, diff, key);

    beforeAll(async () => {
      dataDir = await mkdtemp(path.join(os.tmpdir(), "sarai-cli-repair-"));
      const keys = await createPatchKeys(dataDir);
      ({ signer, otherSigner } = keys);

      install = path.join(dataDir, "install");
      await createGitInstall(install);
      // Read from the working directory by every command (and by `sarai serve`).
      await writeFile(
        path.join(dataDir, "sarai.yaml"),
        [
          `security: { signatures: { publicKey: ${JSON.stringify(keys.publicKeyFile)} } }`,
          "repair:",
          "  patches:",
          `    installDir: ${JSON.stringify(install)}`,
          '    testCommand: ["node", "check.mjs"]',
          "    testTimeoutMs: 30000",
          "    testMemoryMb: 1024",
          "    healthWindowMs: 0",
          "",
        ].join("\n"),
      );
    });

    afterAll(async () => {
      await rm(dataDir, { recursive: true, force: true });
    });

    describe("history", () => {
      it("says no repair was recorded on a fresh install, without creating the database", async () => {
        const text = await cli(["repair", "history"], { env });
        expect(text.code, text.stderr).toBe(0);
        expect(text.stdout).toMatch(/^no repairs recorded yet \(.*repair\.db\)\n$/);
        const json = await cli(["repair", "history", "--json"], { env });
        expect(json.code).toBe(0);
        expect(json.stdout).toBe("");
        const { config } = loadConfig({
          env: { HOME: dataDir, SARAI_PATHS_DATA_DIR: dataDir },
          cwd: dataDir,
        });
        await expect(readFile(path.join(config.repair.dir, "repair.db"))).rejects.toThrow(/ENOENT/);
      }, 120_000);

      it("prints the repairs newest first as a table, and as JSON lines", async () => {
        const { config } = loadConfig({
          env: { HOME: dataDir, SARAI_PATHS_DATA_DIR: dataDir },
          cwd: dataDir,
        });
        const history = RepairHistory.open(path.join(config.repair.dir, "repair.db"));
        const base = Date.parse("2026-12-06T09:00:00Z");
        try {
          history.add({
            fault: "disk_full",
            target: "/srv/sarai/state",
            level: 1,
            action: "remove disposable caches and old logs",
            result: "repaired",
            summary: "100 MiB free under /srv/sarai/state, under 512 MiB",
            evidence: { freeMb: 100, minFreeMb: 512 },
            detail: "freed 900 MiB (cache folder, 3 expired images, old logs)",
            startedAt: base,
            finishedAt: base + 1200,
            rolledBack: false,
          });
          history.add({
            fault: "context_overflow",
            target: "main",
            level: 1,
            action: "inference.contextSize 2048 → 4096",
            result: "reverted",
            summary: "3 requests did not fit the context window",
            evidence: { count: 3 },
            detail: "the fault did not clear within 15000 ms, reverted",
            startedAt: base + 60_000,
            finishedAt: base + 75_000,
            rolledBack: true,
          });
        } finally {
          history.close();
        }

        const text = await cli(["repair", "history"], { env });
        expect(text.code, text.stderr).toBe(0);
        const lines = text.stdout.trimEnd().split("\n");
        expect(lines[0]).toMatch(/^time\s+fault\s+target\s+level\s+result\s+action$/);
        expect(lines[1]).toMatch(
          /^2026-12-06T09:01:00Z\s+context_overflow\s+main\s+1\s+reverted\s+inference\.contextSize 2048 → 4096$/,
        );
        expect(lines[2]).toMatch(
          /^2026-12-06T09:00:00Z\s+disk_full\s+\/srv\/sarai\/state\s+1\s+repaired\s+remove disposable caches and old logs$/,
        );
        expect(lines).toHaveLength(3);

        const json = await cli(["repair", "history", "--json", "--limit", "1"], { env });
        expect(json.code).toBe(0);
        const records = json.stdout
          .trim()
          .split("\n")
          .map((line) => JSON.parse(line) as Record<string, unknown>);
        expect(records).toEqual([
          expect.objectContaining({
            object: "repair.record",
            fault: "context_overflow",
            result: "reverted",
            started_at: "2026-12-06T09:01:00.000Z",
            rolled_back: true,
            evidence: { count: 3 },
          }),
        ]);
      }, 120_000);

      it("refuses a bad --limit with exit 2", async () => {
        const limits = ["0", "1001", "ten"];
        const results = await Promise.all(
          limits.map((limit) => cli(["repair", "history", "--limit", limit], { env })),
        );
        for (const [index, limit] of limits.entries()) {
          const result = results[index]!;
          expect(result.code, limit).toBe(2);
          expect(result.stderr).toContain(`--limit: a whole number from 1 to 1000, not "${limit}"`);
          expectNoStackTrace(result);
        }
      }, 120_000);
    });

    describe("status, check and apply", () => {
      it("asks a running `sarai serve`, and says so when no server answers", async () => {
        const model = await ensureTestModel();
        const child = spawnCli(dataDir, ["serve", "--port", "0", "--model", model], env);
        let stderr = "";
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.stdout.resume();
        const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
        let base: string | undefined;
        try {
          await waitFor(
            "sarai serve",
            () => /listening on (http:\/\/127\.0\.0\.1:\d+)/.test(stderr),
            120_000,
          );
          base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1] ?? "";

          const status = await cli(["repair", "status", "--url", base], { env });
          expect(status.code, status.stderr).toBe(0);
          expect(status.stdout).toMatch(/^self-repair on, auto-apply on, signed patches on/);
          expect(status.stdout).toMatch(/^held config patches: none$/m);
          const json = await cli(["repair", "status", "--url", base, "--json"], { env });
          expect(JSON.parse(json.stdout)).toMatchObject({
            object: "repair.status",
            enabled: true,
            patches_enabled: true,
          });

          const check = await cli(["repair", "check", "--url", base], { env });
          expect(check.code, check.stderr).toBe(0);
          const after = await cli(["repair", "status", "--url", base, "--json"], { env });
          expect((JSON.parse(after.stdout) as { last_check_at: string }).last_check_at).toMatch(/^\d{4}-/);

          // Through the server: signed, but not by the trusted key.
          const diff = await writePatch(modify("value.txt", "1", "2"), otherSigner);
          const refused = await cli(["repair", "apply", diff, `${diff}.asc`, "--url", base], { env });
          expect(refused.code).toBe(1);
          expect(refused.stderr).toMatch(/^sarai: patch \S+ refused: untrusted_key: /);
          expect(refused.stderr).toMatch(/^ {2}verify failed$/m);
          expectNoStackTrace(refused);
          await expect(readFile(path.join(install, "value.txt"), "utf8")).resolves.toBe("1\n");
        } finally {
          child.kill("SIGTERM");
          await exited;
        }
        const down = await cli(["repair", "status", "--url", base], { env });
        expect(down.code).toBe(1);
        expect(down.stderr).toMatch(/cannot reach the server at http:\/\/127\.0\.0\.1:\d+/);
        expect(down.stdout).toBe("");
        expectNoStackTrace(down);
      }, 240_000);

      it("applies a signed patch in this process with --local", async () => {
        const diff = await writePatch(modify("value.txt", "1", "2"), signer);
        const result = await cli(["repair", "apply", diff, `${diff}.asc`, "--local"], {
          env,
        });
        expect(result.code, result.stderr).toBe(0);
        expect(result.stdout).toMatch(
          /^applied \S+: value\.txt \(\d+ ms\); applied; healthy .*\(no server running; only the tests gate it\)$/m,
        );
        await expect(readFile(path.join(install, "value.txt"), "utf8")).resolves.toBe("2\n");
        expect(git(install, "status", "--porcelain")).toBe(" M value.txt\n");
      }, 120_000);

      it("reports failed tests with --local: exit 1, the tests named by --tests ran", async () => {
        const diff = await writePatch(modify("value.txt", "2", "bad"), signer);
        const result = await cli(
          ["repair", "apply", diff, `${diff}.asc`, "--local", "--tests", "a.test.ts, b", "--json"],
          { env },
        );
        expect(result.code).toBe(1);
        const outcome = JSON.parse(result.stdout) as {
          status: string;
          steps: { step: string; detail: string }[];
        };
        expect(outcome.status).toBe("tests_failed");
        expect(outcome.steps.find((s) => s.step === "test")?.detail).toContain("value=bad args=a.test.ts,b");
        expect(result.stderr).toMatch(/^sarai: patch \S+ tests_failed: tests failed \(exit 1\)/);
        expect(result.stderr).toMatch(/^ {4}check: value is bad\n {2}test failed\n$/m);
        await expect(readFile(path.join(install, "value.txt"), "utf8")).resolves.toBe("2\n");
      }, 120_000);

      it("refuses an unsigned patch with --local: exit 1, the reason and the failed step", async () => {
        const diff = await writePatch(modify("value.txt", "2", "3"), null);
        const result = await cli(["repair", "apply", diff, `${diff}.asc`, "--local", "--json"], { env });
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(/refused: missing: no signature fix\.diff\.asc/);
        expect(result.stderr).toMatch(/^ {2}verify failed$/m);
        expect(JSON.parse(result.stdout)).toMatchObject({
          status: "refused",
          steps: [{ step: "verify", ok: false }],
        });
        await expect(readFile(path.join(install, "value.txt"), "utf8")).resolves.toBe("2\n");
      });

      it("names a missing file, with exit 2", async () => {
        const missing = path.join(dataDir, "nowhere", "fix.diff");
        const local = await cli(["repair", "apply", missing, `${missing}.asc`, "--local"], { env });
        expect(local.code).toBe(2);
        expect(local.stderr).toBe(`sarai: the diff ${missing} does not exist\n`);
        const diff = await writePatch(modify("value.txt", "2", "3"), null);
        const remote = await cli(["repair", "apply", diff, `${diff}.asc`, "--url", "http://127.0.0.1:9"], {
          env,
        });
        expect(remote.code).toBe(2);
        expect(remote.stderr).toBe(`sarai: the signature ${diff}.asc does not exist\n`);
      }, 120_000);
    });
  });
});
