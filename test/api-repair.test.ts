import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveAuditPaths, tailAuditLog, type SigningKey } from "../src/security/index.js";
import { expectErrorBody, startTestServer, type TestServer } from "./api-helpers.js";
import {
  appliedSteps,
  createGitInstall,
  createPatchKeys,
  git,
  modify,
  writeSignedPatch,
} from "./repair-fixtures.js";

const adminKey = "repair-test-admin-0001";
const boundKey = "repair-test-bound-0002";

interface RecordJson {
  id: number;
  object: string;
  fault: string;
  target: string;
  level: number;
  action: string;
  result: string;
  summary: string;
  evidence: Record<string, unknown>;
  detail: string;
  started_at: string;
  finished_at: string;
  rolled_back: boolean;
}

interface StatusJson {
  object: string;
  enabled: boolean;
  auto_apply: boolean;
  running: boolean;
  last_check_at: string | null;
  faults: { fault: string; target: string; summary: string; evidence: Record<string, unknown> }[];
  held_patches: unknown[];
  patches_enabled: boolean;
}

interface OutcomeJson {
  object: string;
  id: string;
  status: string;
  reason: string;
  files: string[];
  steps: { step: string; ok: boolean; detail: string; ms: number }[];
  rollback_ms: number | null;
  duration_ms: number;
}

const isoPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe("api", () => {
  describe("repair", () => {
    let root: string;
    /** Finds disk_full on every pass (more free MiB asked for than the disk has); patches off; two keys. */
    let faulty: TestServer;
    /** Finds nothing; signed patches on, against a temporary git install. */
    let healthy: TestServer;
    /** `repair.enabled: false`. */
    let off: TestServer;
    let install: string;
    let signer: SigningKey;
    let otherSigner: SigningKey;

    const call = (
      ts: TestServer,
      method: "GET" | "POST",
      url: string,
      options: { key?: string; body?: unknown } = {},
    ) =>
      ts.server.fastify.inject({
        method,
        url,
        headers: options.key === undefined ? {} : { authorization: `Bearer ${options.key}` },
        ...(options.body === undefined ? {} : { payload: options.body as Record<string, unknown> }),
      });

    /** A diff and its armored signature by `key`, as the patch route takes them. */
    const signed = async (diff: string, key: SigningKey) => {
      const file = await writeSignedPatch(root, diff, key);
      return { diff, signature: await readFile(`${file}.asc`, "utf8") };
    };

    beforeAll(async () => {
      root = await mkdtemp(path.join(os.tmpdir(), "sarai-api-repair-"));
      const keys = await createPatchKeys(root);
      const publicKey = keys.publicKeyFile;
      ({ signer, otherSigner } = keys);

      install = path.join(root, "install");
      await createGitInstall(install);

      // The loop is off: a loop opened and never started would be a loop_down fault of its own.
      [faulty, healthy, off] = await Promise.all([
        startTestServer({
          listen: false,
          server: { apiKeys: [adminKey, { key: boundKey, user: "bea" }] },
          configYaml: [
            "proactive: { enabled: false }",
            "repair:",
            "  verifyMs: 0",
            "  thresholds: { minFreeDiskMb: 1048576 }",
            "  patches: { enabled: false }",
            "",
          ].join("\n"),
        }),
        startTestServer({
          listen: false,
          configYaml: [
            "proactive: { enabled: false }",
            `security: { signatures: { publicKey: ${JSON.stringify(publicKey)} } }`,
            "repair:",
            "  verifyMs: 0",
            "  patches:",
            `    installDir: ${JSON.stringify(install)}`,
            '    testCommand: ["node", "check.mjs"]',
            "    testTimeoutMs: 30000",
            "    testMemoryMb: 1024",
            "    healthWindowMs: 0",
            "",
          ].join("\n"),
        }),
        startTestServer({ listen: false, configYaml: "repair: { enabled: false }\n" }),
      ]);
      // A patch's health check needs a ready server: the model loaded.
      await healthy.app.pool.load("main");
    }, 120_000);

    afterAll(async () => {
      await Promise.all([faulty?.close(), healthy?.close(), off?.close()]);
      await rm(root, { recursive: true, force: true });
    });

    describe("status", () => {
      it("reports no check and no fault before the first pass", async () => {
        const response = await call(healthy, "GET", "/v1/repair/status");
        expect(response.statusCode).toBe(200);
        expect(response.json()).toEqual({
          object: "repair.status",
          enabled: true,
          auto_apply: true,
          running: false,
          last_check_at: null,
          faults: [],
          held_patches: [],
          workarounds: [],
          patches_enabled: true,
        });
      });

      it("reports the fault the last pass found, with its evidence", async () => {
        expect((await call(faulty, "POST", "/v1/repair/check", { key: adminKey })).statusCode).toBe(200);
        const response = await call(faulty, "GET", "/v1/repair/status", { key: adminKey });
        expect(response.statusCode).toBe(200);
        const status = response.json<StatusJson>();
        expect(status).toMatchObject({ object: "repair.status", enabled: true, patches_enabled: false });
        expect(status.last_check_at).toMatch(isoPattern);
        const disk = status.faults.find((f) => f.fault === "disk_full");
        expect(disk).toMatchObject({
          target: faulty.app.config.paths.stateDir,
          evidence: { minFreeMb: 1048576 },
        });
        expect(disk?.summary).toMatch(/MiB free under .*, under 1048576 MiB/);
      });

      it("reports a pass that found nothing", async () => {
        const check = await call(healthy, "POST", "/v1/repair/check");
        expect(check.json()).toEqual({ object: "list", data: [] });
        const status = (await call(healthy, "GET", "/v1/repair/status")).json<StatusJson>();
        expect(status.last_check_at).toMatch(isoPattern);
        expect(status.faults).toEqual([]);
      });
    });

    describe("check and history", () => {
      it("runs a pass now and keeps its repair in the history", async () => {
        // Its own server so the pass is the first: a repaired (or not) fault cools down for repair.cooldownMs.
        const ts = await startTestServer({
          listen: false,
          configYaml:
            "proactive: { enabled: false }\nrepair: { verifyMs: 0, thresholds: { minFreeDiskMb: 1048576 } }\n",
        });
        try {
          // Something disposable for the repair to remove.
          const junk = path.join(ts.app.config.paths.cacheDir, "junk.bin");
          await mkdir(ts.app.config.paths.cacheDir, { recursive: true });
          await writeFile(junk, Buffer.alloc(2 ** 20));
          const check = await call(ts, "POST", "/v1/repair/check");
          expect(check.statusCode).toBe(200);
          const { object, data } = check.json<{ object: string; data: RecordJson[] }>();
          expect(object).toBe("list");
          const record = data.find((r) => r.fault === "disk_full");
          expect(record).toMatchObject({
            object: "repair.record",
            target: ts.app.config.paths.stateDir,
            level: 1,
            action: "remove disposable caches and old logs",
            evidence: { minFreeMb: 1048576 },
          });
          // The caches go, but the disk keeps more than 1 TiB short: reverted, unless the disk is that big.
          expect(["repaired", "reverted"]).toContain(record?.result);
          expect(record?.detail).toMatch(/freed \d+ MiB \(cache folder/);
          await expect(stat(junk)).rejects.toThrow(/ENOENT/);
          expect(record?.started_at).toMatch(isoPattern);
          expect(Date.parse(record?.finished_at ?? "")).toBeGreaterThanOrEqual(
            Date.parse(record?.started_at ?? ""),
          );

          const again = await call(ts, "POST", "/v1/repair/check");
          // Cooling down: not tried twice.
          expect(again.json<{ data: RecordJson[] }>().data.filter((r) => r.fault === "disk_full")).toEqual(
            [],
          );

          const history = await call(ts, "GET", "/v1/repair/history");
          expect(history.statusCode).toBe(200);
          expect(history.json()).toEqual({ object: "list", data: [record] });
          const since = await call(
            ts,
            "GET",
            `/v1/repair/history?since=${encodeURIComponent(record!.started_at)}`,
          );
          expect(since.json<{ data: RecordJson[] }>().data.map((r) => r.id)).toEqual([record?.id]);
          const later = new Date(Date.parse(record!.started_at) + 1).toISOString();
          expect((await call(ts, "GET", `/v1/repair/history?since=${later}`)).json()).toEqual({
            object: "list",
            data: [],
          });
          expect((await call(ts, "GET", "/v1/repair/history?since=2000-01-01&limit=1")).json()).toEqual({
            object: "list",
            data: [record],
          });
        } finally {
          await ts.close();
        }
      });

      it("records the admin calls in the audit log, reads not", async () => {
        await call(faulty, "POST", "/v1/repair/check", { key: adminKey });
        await call(faulty, "GET", "/v1/repair/status", { key: adminKey });
        const entries = tailAuditLog(resolveAuditPaths(faulty.app.config).dir, 1000, "admin.call");
        const repair = entries.filter((e) => e.target?.startsWith("/v1/repair"));
        expect(repair.at(-1)).toMatchObject({
          target: "/v1/repair/check",
          outcome: "ok",
          details: { method: "POST", status: 200 },
        });
        expect(repair.at(-1)?.actor).toMatch(/^anonymous \(key:[0-9a-f]{8}\)$/);
        expect(repair.some((e) => e.target === "/v1/repair/status")).toBe(false);
      });

      it.each([
        ["limit=0", "limit"],
        ["limit=1001", "limit"],
        ["limit=ten", "limit"],
        ["since=yesterday", "since"],
        ["since=2026-13-01T00:00:00Z", "since"],
        ["until=2026-01-01", undefined],
      ])("refuses ?%s with a 400 naming the parameter", async (query, param) => {
        const response = await call(faulty, "GET", `/v1/repair/history?${query}`, { key: adminKey });
        expect(response.statusCode).toBe(400);
        const { error } = expectErrorBody(response.json(), "invalid_request");
        if (param === undefined) expect(error.message).toContain('unknown field "until"');
        else {
          expect(error.param).toBe(param);
          expect(error.message).toMatch(new RegExp(`^${param}: `));
        }
      });
    });

    describe("access", () => {
      it.each([
        ["GET", "/v1/repair/status"],
        ["GET", "/v1/repair/history"],
        ["POST", "/v1/repair/check"],
        ["POST", "/v1/repair/patches"],
      ] as const)("refuses %s %s to a key bound to a user", async (method, url) => {
        const response = await call(faulty, method, url, { key: boundKey, body: {} });
        expect(response.statusCode).toBe(403);
        expect(expectErrorBody(response.json(), "forbidden").error.message).toMatch(/not bound to a user/);
      });

      it.each([
        ["GET", "/v1/repair/status"],
        ["GET", "/v1/repair/history"],
        ["POST", "/v1/repair/check"],
        ["POST", "/v1/repair/patches"],
      ] as const)("answers %s %s with 404 when self-repair is off", async (method, url) => {
        const response = await call(off, method, url, { body: {} });
        expect(response.statusCode).toBe(404);
        expect(expectErrorBody(response.json(), "not_found").error.message).toContain("repair.enabled");
      });

      it("answers the patch route with 404 when signed patches are off", async () => {
        const response = await call(faulty, "POST", "/v1/repair/patches", {
          key: adminKey,
          body: await signed(modify("value.txt", "1", "2"), signer),
        });
        expect(response.statusCode).toBe(404);
        expect(expectErrorBody(response.json(), "not_found").error.message).toContain(
          "repair.patches.enabled",
        );
      });
    });

    describe("patches", () => {
      const post = (body: unknown) => call(healthy, "POST", "/v1/repair/patches", { body });

      it.each([
        ["no diff", { signature: "-----BEGIN PGP SIGNATURE-----\nx\n" }, "diff"],
        ["an empty diff", { diff: "", signature: "-----BEGIN PGP SIGNATURE-----\nx\n" }, "diff"],
        ["a binary signature", { diff: "x", signature: "\u0089PNG" }, "signature"],
        [
          "tests that are no list",
          { diff: "x", signature: "-----BEGIN PGP SIGNATURE-----\n", tests: "a" },
          "tests",
        ],
        [
          "a diff over 10 MiB",
          { diff: "é".repeat(5 * 2 ** 20 + 1), signature: "-----BEGIN PGP SIGNATURE-----\n" },
          "diff",
        ],
      ])("refuses a body with %s, naming the field", async (_name, body, param) => {
        const response = await post(body);
        expect(response.statusCode).toBe(400);
        const { error } = expectErrorBody(response.json(), "invalid_request");
        expect(error.param).toBe(param);
      });

      it("refuses an unknown field", async () => {
        const response = await post({ diff: "x", signature: "-----BEGIN PGP SIGNATURE-----\n", force: true });
        expect(response.statusCode).toBe(400);
        expect(expectErrorBody(response.json(), "invalid_request").error.message).toContain('"force"');
      });

      it("refuses a patch signed by another key, as a 200 whose status says so", async () => {
        const response = await post(await signed(modify("value.txt", "1", "2"), otherSigner));
        expect(response.statusCode).toBe(200);
        const outcome = response.json<OutcomeJson>();
        expect(outcome).toMatchObject({ object: "repair.patch", status: "refused", rollback_ms: null });
        expect(outcome.reason).toMatch(/^untrusted_key: /);
        expect(outcome.steps.map((s) => [s.step, s.ok])).toEqual([["verify", false]]);
        await expect(readFile(path.join(install, "value.txt"), "utf8")).resolves.toBe("1\n");
      });

      it("refuses a diff whose signature is of other bytes, and a malformed signature", async () => {
        const { signature } = await signed(modify("value.txt", "1", "2"), signer);
        const mismatch = (await post({ diff: modify("value.txt", "1", "3"), signature })).json<OutcomeJson>();
        expect(mismatch.status).toBe("refused");
        expect(mismatch.reason).toMatch(/^mismatch: /);
        const malformed = (
          await post({
            diff: modify("value.txt", "1", "2"),
            signature: "-----BEGIN PGP SIGNATURE-----\n\nnot really\n-----END PGP SIGNATURE-----\n",
          })
        ).json<OutcomeJson>();
        expect(malformed.status).toBe("refused");
        expect(malformed.reason).toMatch(/^malformed: /);
      });

      it("applies a signed patch after its tests pass, and keeps it in the history", async () => {
        const response = await post({
          ...(await signed(modify("value.txt", "1", "2"), signer)),
          tests: ["extra.test.ts"],
        });
        expect(response.statusCode).toBe(200);
        const outcome = response.json<OutcomeJson>();
        expect(outcome, outcome.reason).toMatchObject({
          object: "repair.patch",
          status: "applied",
          files: ["value.txt"],
          rollback_ms: null,
        });
        expect(outcome.id).toMatch(/^\S+-[0-9a-f]{6}$/);
        expect(outcome.duration_ms).toBeGreaterThanOrEqual(0);
        expect(outcome.steps.map((s) => [s.step, s.ok])).toEqual(appliedSteps);
        expect(outcome.steps.find((s) => s.step === "test")?.detail).toContain("value=2 args=extra.test.ts");
        await expect(readFile(path.join(install, "value.txt"), "utf8")).resolves.toBe("2\n");
        expect(git(install, "status", "--porcelain")).toBe(" M value.txt\n");

        // The pair stays in the API's inbox, private, under the name the history gives.
        const inbox = path.join(healthy.app.config.repair.dir, "inbox-api");
        expect((await stat(inbox)).mode & 0o777).toBe(0o700);
        const history = (await call(healthy, "GET", "/v1/repair/history?limit=1")).json<{
          data: RecordJson[];
        }>();
        const record = history.data[0];
        expect(record).toMatchObject({
          fault: "patch",
          level: 2,
          result: "applied",
          evidence: { id: outcome.id },
          rolled_back: false,
        });
        expect(record?.target).toMatch(/^[0-9a-f-]{36}\.diff$/);
        const names = await readdir(inbox);
        expect(names).toEqual(expect.arrayContaining([record!.target, `${record!.target}.asc`]));
        expect((await stat(path.join(inbox, record!.target))).mode & 0o777).toBe(0o600);
      });
    });
  });
});
