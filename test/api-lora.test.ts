import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSigningKey, resolveAuditPaths, tailAuditLog } from "../src/security/index.js";
import { expectErrorBody, startTestServer, waitFor, type TestServer } from "./api-helpers.js";

const adminKey = "lora-test-admin-0001";
const boundKey = "lora-test-bound-0002";

interface StatusJson {
  object: string;
  active: string | null;
  previous: string | null;
  running: boolean;
  last_run: { at: string; outcome: string; reason: string | null; adapter_id: string | null } | null;
  data: Record<string, unknown>[];
}

/** Learning on, without the loop; no signing key in a fresh data directory. */
const learningOn = [
  "proactive: { enabled: false }",
  "learning:",
  "  lora:",
  "    minNewFeedback: 5",
  "    minExamples: 2",
  "",
].join("\n");

/** With a signing key and a run that lasts until it is stopped: a million steps, an hour's budget. */
const longRun = (keys: { privateKey: string; publicKey: string }) =>
  [
    "proactive: { enabled: false }",
    "security:",
    "  signatures:",
    `    privateKey: ${JSON.stringify(keys.privateKey)}`,
    `    publicKey: ${JSON.stringify(keys.publicKey)}`,
    "learning:",
    "  lora:",
    "    minExamples: 2",
    "    steps: 1000000",
    "    timeBudgetSeconds: 3600",
    "    maxAnswerTokens: 1",
    "",
  ].join("\n");

describe("api", () => {
  describe("lora", () => {
    /** Learning on, no signing key, two API keys (one bound to a user). */
    let on: TestServer;
    /** `learning.lora.enabled: false`. */
    let off: TestServer;

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

    /** Corrections by the user the adapter learns from (`learning.lora.user`). */
    const addCorrections = (ts: TestServer, n: number) => {
      for (let index = 0; index < n; index += 1)
        ts.app.feedback?.add({
          userId: ts.app.config.learning.lora.user,
          rating: "down",
          prompt: `What is the capital of Zorbia? (${index})`,
          answer: "I do not know.",
          correction: "Veradon.",
        });
    };

    beforeAll(async () => {
      [on, off] = await Promise.all([
        startTestServer({
          server: { apiKeys: [adminKey, { key: boundKey, user: "bea" }] },
          configYaml: learningOn,
        }),
        startTestServer({ listen: false, configYaml: "learning: { lora: { enabled: false } }\n" }),
      ]);
    }, 120_000);

    afterAll(async () => {
      await Promise.all([on?.close(), off?.close()]);
    });

    describe("status", () => {
      it("reports no adapter, no run and an empty archive on a fresh install", async () => {
        expect(on.app.learning).toBeDefined();
        const response = await call(on, "GET", "/v1/lora", { key: adminKey });
        expect(response.statusCode).toBe(200);
        expect(response.json()).toEqual({
          object: "lora.status",
          active: null,
          previous: null,
          running: false,
          last_run: null,
          data: [],
        });
      });
    });

    describe("train", () => {
      it("skips a run with too little new feedback and says why", async () => {
        const response = await call(on, "POST", "/v1/lora/train", { key: adminKey, body: {} });
        expect(response.statusCode).toBe(200);
        expect(response.json()).toMatchObject({
          object: "lora.training",
          outcome: "skipped",
          reason: "0 new feedback since the last run; learning.minNewFeedback is 5",
          adapter_id: null,
          examples: 0,
          steps: 0,
          verdict: null,
        });
      });

      it("skips a forced run with too few examples, however much feedback", async () => {
        const response = await call(on, "POST", "/v1/lora/train", { key: adminKey, body: { force: true } });
        expect(response.statusCode).toBe(200);
        expect(response.json()).toMatchObject({
          outcome: "skipped",
          reason: "0 training examples; learning.minExamples is 2",
        });
      });

      it.each([
        [{ force: "yes" }, "force"],
        [{ force: 1 }, "force"],
        [{ forced: true }, undefined],
      ])("refuses the body %j with a 400 naming the field", async (body, param) => {
        const response = await call(on, "POST", "/v1/lora/train", { key: adminKey, body });
        expect(response.statusCode).toBe(400);
        const { error } = expectErrorBody(response.json(), "invalid_request");
        if (param === undefined) expect(error.message).toContain('unknown field "forced"');
        else {
          expect(error.param).toBe(param);
          expect(error.message).toMatch(/^force: /);
        }
      });

      it("records the skipped run as the last run, with its reason", async () => {
        const status = (await call(on, "GET", "/v1/lora", { key: adminKey })).json<StatusJson>();
        expect(status.last_run).toEqual({
          at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/) as unknown,
          outcome: "skipped",
          reason: "0 training examples; learning.minExamples is 2",
          adapter_id: null,
        });
      });

      it("fails a forced run without a signing key with SIGNING_KEY_MISSING, saying how to make one", async () => {
        addCorrections(on, 3);
        const response = await call(on, "POST", "/v1/lora/train", { key: adminKey, body: { force: true } });
        expect(response.statusCode).toBe(500);
        const { error } = expectErrorBody(response.json(), "signing_key_missing");
        expect(error.message).toContain("sarai keys init");
        expect((await call(on, "GET", "/v1/lora", { key: adminKey })).json()).toMatchObject({
          running: false,
          data: [],
        });
      });
    });

    describe("promote and rollback", () => {
      it("answers 404 ADAPTER_NOT_FOUND for an id the archive does not hold", async () => {
        const response = await call(on, "POST", "/v1/lora/promote", {
          key: adminKey,
          body: { id: "lora-20260101-000000-abcdef" },
        });
        expect(response.statusCode).toBe(404);
        const { error } = expectErrorBody(response.json(), "adapter_not_found");
        expect(error.param).toBe("id");
        expect(error.message).toContain("lora-20260101-000000-abcdef");
      });

      it("runs the bare model with id null, and answers the status", async () => {
        const response = await call(on, "POST", "/v1/lora/promote", { key: adminKey, body: { id: null } });
        expect(response.statusCode).toBe(200);
        expect(response.json()).toMatchObject({ object: "lora.status", active: null, data: [] });
      });

      it.each([
        [{}, "id"],
        [{ id: 7 }, "id"],
        [{ id: "" }, "id"],
      ])("refuses the body %j with a 400 naming id", async (body, param) => {
        const response = await call(on, "POST", "/v1/lora/promote", { key: adminKey, body });
        expect(response.statusCode).toBe(400);
        expect(expectErrorBody(response.json(), "invalid_request").error.param).toBe(param);
      });

      it("refuses a rollback with nothing to roll back", async () => {
        const response = await call(on, "POST", "/v1/lora/rollback", { key: adminKey });
        expect(response.statusCode).toBe(400);
        expect(expectErrorBody(response.json(), "invalid_request").error.message).toContain(
          "nothing to roll back",
        );
      });

      it("records the admin calls in the audit log, reads not", async () => {
        await call(on, "POST", "/v1/lora/rollback", { key: adminKey });
        await call(on, "GET", "/v1/lora", { key: adminKey });
        const entries = tailAuditLog(resolveAuditPaths(on.app.config).dir, 1000, "admin.call");
        const lora = entries.filter((e) => e.target?.startsWith("/v1/lora"));
        expect(lora.at(-1)).toMatchObject({
          target: "/v1/lora/rollback",
          outcome: "error",
          details: { method: "POST", status: 400 },
        });
        expect(lora.at(-1)?.actor).toMatch(/^anonymous \(key:[0-9a-f]{8}\)$/);
        expect(lora.some((e) => e.target === "/v1/lora")).toBe(false);
      });
    });

    describe("access", () => {
      const routes = [
        ["GET", "/v1/lora"],
        ["POST", "/v1/lora/train"],
        ["POST", "/v1/lora/promote"],
        ["POST", "/v1/lora/rollback"],
      ] as const;

      it.each(routes)("refuses %s %s to a key bound to a user", async (method, url) => {
        const response = await call(on, method, url, { key: boundKey, body: {} });
        expect(response.statusCode).toBe(403);
        expect(expectErrorBody(response.json(), "forbidden").error.message).toMatch(/not bound to a user/);
      });

      it.each(routes)("answers %s %s with 404 when learning.lora.enabled is false", async (method, url) => {
        expect(off.app.learning).toBeUndefined();
        const response = await call(off, method, url, { body: {} });
        expect(response.statusCode).toBe(404);
        const { error } = expectErrorBody(response.json(), "not_found");
        expect(error.message).toContain("learning.lora.enabled");
        expect(error.message).toContain("remote");
      });
    });

    describe("a long run", () => {
      let keysDir: string;
      let keys: { privateKey: string; publicKey: string };

      beforeAll(async () => {
        keysDir = await mkdtemp(path.join(os.tmpdir(), "sarai-api-lora-keys-"));
        const pair = await generateSigningKey();
        keys = {
          privateKey: path.join(keysDir, "signing-key.asc"),
          publicKey: path.join(keysDir, "signing-key.pub.asc"),
        };
        await writeFile(keys.privateKey, pair.privateKey, { mode: 0o600 });
        await writeFile(keys.publicKey, pair.publicKey);
      });
      afterAll(() => rm(keysDir, { recursive: true, force: true }));

      const train = (ts: TestServer, signal?: AbortSignal) =>
        fetch(`${ts.url}/v1/lora/train`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ force: true }),
          ...(signal === undefined ? {} : { signal }),
        });

      it("refuses a second run, goes on when its client disconnects and stops when the server closes", async () => {
        const ts = await startTestServer({ configYaml: longRun(keys) });
        try {
          addCorrections(ts, 3);
          const client = new AbortController();
          const request = train(ts, client.signal);
          await waitFor("the run to start", () => ts.app.learning?.status().running === true);
          expect((await call(ts, "GET", "/v1/lora")).json<StatusJson>().running).toBe(true);
          const second = await call(ts, "POST", "/v1/lora/train", { body: { force: true } });
          expect(second.statusCode).toBe(409);
          expect(expectErrorBody(second.json(), "learning_busy").error.message).toMatch(/already going on/);

          client.abort();
          await expect(request).rejects.toThrow();
          // A run that followed its request would stop at its next check, within one short answer or step.
          await new Promise((resolve) => setTimeout(resolve, 2_000));
          expect(ts.app.learning?.status().running).toBe(true);
          await ts.server.close();
          // Stopped by the server closing, before the app is disposed (which would stop it too).
          await waitFor("the run to stop", () => ts.app.learning?.status().running === false, 10_000);
        } finally {
          await ts.close();
        }
      }, 120_000);

      it("answers a client waiting on a run 503 when the server closes, without waiting for the run", async () => {
        const ts = await startTestServer({ configYaml: longRun(keys) });
        try {
          addCorrections(ts, 3);
          const request = train(ts);
          await waitFor("the run to start", () => ts.app.learning?.status().running === true);
          const closed = ts.server.close();
          const response = await request;
          expect(response.status).toBe(503);
          expect(expectErrorBody(await response.json(), "shutting_down").error.message).toMatch(
            /shut down during the training run/,
          );
          await closed;
          expect(ts.app.learning?.status().running).toBe(false);
        } finally {
          await ts.close();
        }
      }, 120_000);
    });
  });
});
