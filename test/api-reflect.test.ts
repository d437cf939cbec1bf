import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SaraiReflection } from "../src/api/index.js";
import { expectErrorBody, metricValue, startTestServer, type TestServer } from "./api-helpers.js";
import { ensureTestModel } from "./models.js";

interface Completion {
  choices: { message: { content: string } }[];
  sarai: { reflection?: SaraiReflection; fallback_used?: boolean; fallback_reason?: string };
}

async function post(ts: TestServer, body: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${ts.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

const ask = (ts: TestServer, extra: Record<string, unknown> = {}) =>
  post(ts, {
    model: ts.modelId,
    messages: [{ role: "user", content: "Name a prime number." }],
    temperature: 0,
    max_tokens: 24,
    ...extra,
  });

describe("api", () => {
  describe("reflect", () => {
    let ts: TestServer;

    beforeAll(async () => {
      ts = await startTestServer({ reflect: { selfAssessment: false } });
    }, 120_000);
    afterAll(() => ts.close());

    it("revises when the verifier fails on the draft, and says so under sarai.reflection", async () => {
      const { status, body } = await ask(ts, {
        reflect: true,
        verify: { kind: "tests", tests: [{ contains: "never written by a random model" }] },
      });
      expect(status).toBe(200);
      const completion = body as Completion;
      const reflection = completion.sarai.reflection as SaraiReflection;
      expect(reflection.iterations).toHaveLength(3);
      expect(reflection.stopped_by).toBe("max_iterations");
      for (const iteration of reflection.iterations) {
        expect(iteration.signals.verifiers?.[0]).toMatchObject({ name: "tests", ok: false });
        expect(iteration.confidence).toBeLessThanOrEqual(0.5);
        expect(iteration.signals.token_probability).toBeGreaterThan(0);
      }
      const chosen = reflection.iterations[reflection.chosen - 1];
      expect(completion.choices[0]?.message.content).toBe(chosen?.response);
      expect(reflection.template_sha256.critique).toMatch(/^[0-9a-f]{64}$/);
      expect(completion.sarai.fallback_used).toBe(false);
    });

    it("runs a request's Python tests on every iteration and revises on the failure", async () => {
      const { status, body } = await ask(ts, {
        verify: { kind: "python", tests: "assert solve() == 42" },
      });
      expect(status).toBe(200);
      const reflection = (body as Completion).sarai.reflection as SaraiReflection;
      expect(reflection.iterations).toHaveLength(3);
      for (const iteration of reflection.iterations) {
        const check = iteration.signals.verifiers?.[0];
        expect(check?.name).toBe("python");
        expect(check?.ok).toBe(false);
        // A random model writes no valid Python, or no solve(): either way the issue says what broke.
        expect(check?.issues[0]).toMatch(/line \d+|the tests failed/);
      }
    });

    it("stops at the draft when its check passes", async () => {
      const { status, body } = await ask(ts, {
        verify: { kind: "tests", tests: [{ regex: "[\\s\\S]*" }] },
      });
      expect(status).toBe(200);
      const reflection = (body as Completion).sarai.reflection as SaraiReflection;
      // A passing check (0.5) and the token probability: confident at the default 0.85 only if the model is.
      expect(reflection.iterations[0]?.signals.verifiers?.[0]?.ok).toBe(true);
      expect(reflection.iterations.length).toBeGreaterThanOrEqual(1);
      if (reflection.stopped_by === "confident") expect(reflection.iterations).toHaveLength(1);
    });

    it("leaves sarai.reflection out of plain turns", async () => {
      const { status, body } = await ask(ts);
      expect(status).toBe(200);
      expect((body as Completion).sarai.reflection).toBeUndefined();
      expect((body as Completion).sarai.fallback_used).toBeUndefined();
    });

    it("streams a reflected answer as one piece with the report in the last chunk", async () => {
      const response = await fetch(`${ts.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: ts.modelId,
          messages: [{ role: "user", content: "Name a prime number." }],
          temperature: 0,
          max_tokens: 24,
          stream: true,
          reflect: true,
          verify: { kind: "tests", tests: [{ notContains: "e" }] },
        }),
      });
      expect(response.status).toBe(200);
      const events = (await response.text())
        .split("\n\n")
        .filter((e) => e.startsWith("data: {"))
        .map((e) => JSON.parse(e.slice(6)) as Record<string, unknown>);
      const deltas = events
        .map((e) => (e["choices"] as { delta: { content?: string } }[])[0]?.delta.content)
        .filter((c) => c !== undefined && c !== "");
      expect(deltas).toHaveLength(1);
      const last = events.at(-1) as { sarai: { reflection: SaraiReflection } };
      const reflection = last.sarai.reflection;
      expect(deltas[0]).toBe(reflection.iterations[reflection.chosen - 1]?.response);
    });

    it("refuses a bad verify with a 400 naming the field", async () => {
      const cases: [unknown, string][] = [
        [{ kind: "lua" }, "verify.kind"],
        ["json", "verify"],
        [{ kind: "tests", tests: [] }, "verify.tests"],
        [{ kind: "tests", tests: [{ regex: "(" }] }, "verify.tests[0].regex"],
        [{ kind: "tests", tests: [{ contains: "a", regex: "b" }] }, "verify.tests[0]"],
        [{ kind: "json", schema: 3 }, "verify.schema"],
        [{ kind: "sql", extra: 1 }, "verify.extra"],
      ];
      for (const [verify, param] of cases) {
        const { status, body } = await ask(ts, { verify });
        expect(status, JSON.stringify(verify)).toBe(400);
        expect(expectErrorBody(body, "invalid_request").error.param).toBe(param);
      }
      const { status, body } = await ask(ts, { reflect: "yes" });
      expect(status).toBe(400);
      expect(expectErrorBody(body).error.param).toBe("reflect");
    });

    it("counts reflected turns in /metrics", async () => {
      await ask(ts, { verify: { kind: "tests", tests: [{ contains: "zzzz" }] } });
      const text = await (await fetch(`${ts.url}/metrics`)).text();
      expect(metricValue(text, "sarai_omni_loop_iterations_count")).toBeGreaterThanOrEqual(1);
      expect(metricValue(text, "sarai_omni_loop_latency_seconds_count")).toBeGreaterThanOrEqual(1);
      expect(metricValue(text, "sarai_autocorrection_rate")).toBeGreaterThanOrEqual(0);
    });
  });

  describe("fallback", () => {
    let ts: TestServer;
    let dir: string;

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), "sarai-api-fallback-"));
      const corrupt = path.join(dir, "broken-main.gguf");
      await writeFile(corrupt, Buffer.concat([Buffer.from("GGUF"), Buffer.alloc(8192, 1)]));
      ts = await startTestServer({ main: corrupt, fallback: await ensureTestModel() });
    }, 120_000);
    afterAll(async () => {
      await ts.close();
      await rm(dir, { recursive: true, force: true });
    });

    it("answers from the fallback model when the main model cannot load, flagged with the reason", async () => {
      for (const reflect of [false, true]) {
        const { status, body } = await ask(ts, { reflect });
        expect(status).toBe(200);
        const completion = body as Completion;
        expect(completion.choices[0]?.message.content.length).toBeGreaterThan(0);
        expect(completion.sarai.fallback_used).toBe(true);
        expect(completion.sarai.fallback_reason).toContain("broken-main.gguf");
      }
      const text = await (await fetch(`${ts.url}/metrics`)).text();
      expect(metricValue(text, "sarai_fallback_total")).toBeGreaterThanOrEqual(2);
    });
  });
});
