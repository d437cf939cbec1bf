import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  builtinTemplatesDir,
  loadReflectionTemplates,
  ReflexiveLoop,
  TurnPipeline,
  type ReflectSettings,
  type Verifier,
} from "../src/assistant/index.js";
import {
  EmbeddedBackend,
  ModelPool,
  RemoteBackend,
  RoleRouter,
  type ChatRequest,
  type LlmBackend,
  type ModelRole,
} from "../src/inference/index.js";
import { AppError, isAppError } from "../src/shared/index.js";
import { ensureTestModel, getTestLlama, slowModelOptions } from "./models.js";

const never = new AbortController().signal;
const settings: ReflectSettings = {
  maxIterations: 3,
  confidenceThreshold: 0.85,
  iterationTimeoutMs: 30_000,
  deadlineMs: 60_000,
  selfAssessment: false,
};
const question: ChatRequest = {
  messages: [{ role: "user", content: "What is the capital of Portugal?" }],
  sampling: { temperature: 0, maxTokens: 24 },
};

/** A verifier scripted per call: true passes, false fails with an issue. */
function scriptedVerifier(verdicts: boolean[]): Verifier & { calls: string[] } {
  const calls: string[] = [];
  return {
    name: "scripted",
    calls,
    verify(text) {
      calls.push(text);
      const ok = verdicts[calls.length - 1] ?? false;
      return Promise.resolve({ name: "scripted", ok, issues: ok ? [] : [`check ${calls.length} failed`] });
    },
  };
}

async function createPool(
  roles: { main: string; fallback?: string },
  contextSize = 1024,
): Promise<ModelPool> {
  return new ModelPool({
    roles: {
      main: { file: roles.main },
      ...(roles.fallback === undefined ? {} : { fallback: { file: roles.fallback } }),
    },
    threads: 1,
    batchSize: 512,
    contextSize,
    sequences: 1,
    ramBudgetBytes: 4 * 2 ** 30,
    llama: await getTestLlama(),
  });
}

describe("assistant", () => {
  describe("reflexive loop", () => {
    let pool: ModelPool;
    let backend: EmbeddedBackend;
    const templates = loadReflectionTemplates();

    beforeAll(async () => {
      pool = await createPool({ main: await ensureTestModel() });
      backend = new EmbeddedBackend({ pool });
    });
    afterAll(async () => {
      await pool.dispose();
    });

    const loop = (overrides: Partial<ReflectSettings> = {}, over: LlmBackend = backend) =>
      new ReflexiveLoop({ backend: over, templates, settings: { ...settings, ...overrides } });

    it("never runs more than three iterations, whatever the config says", async () => {
      const { report } = await loop({ maxIterations: 7, confidenceThreshold: 1 }).run(
        question,
        [scriptedVerifier([false, false, false, false, false])],
        never,
      );
      expect(report.iterations.map((i) => i.n)).toEqual([1, 2, 3]);
      expect(report.stoppedBy).toBe("max_iterations");
    });

    it("obeys a lower configured cap", async () => {
      const { report } = await loop({ maxIterations: 2, confidenceThreshold: 1 }).run(
        question,
        [scriptedVerifier([false, false, false])],
        never,
      );
      expect(report.iterations).toHaveLength(2);
    });

    it("stops after the draft when it is already confident", async () => {
      const verifier = scriptedVerifier([true]);
      const { response, report } = await loop({ confidenceThreshold: 0.5 }).run(question, [verifier], never);
      expect(report.iterations).toHaveLength(1);
      expect(report.stoppedBy).toBe("confident");
      expect(report.autoCorrected).toBe(false);
      expect(verifier.calls).toEqual([response.text]);
      // The confidence is the weighted mean of the verifier (1) and the token probability, never the length.
      const tokens = report.iterations[0]?.signals.tokenProbability ?? Number.NaN;
      expect(tokens).toBeGreaterThan(0);
      expect(report.iterations[0]?.confidence).toBeCloseTo((0.5 + 0.3 * tokens) / 0.8, 6);
    });

    it("revises a draft that fails its check, and returns the revision that passes", async () => {
      const verifier = scriptedVerifier([false, true]);
      const requests: ChatRequest[] = [];
      const recording: LlmBackend = {
        chat: (request, signal) => {
          requests.push(request);
          return backend.chat(request, signal);
        },
        chatStream: (request, signal) => backend.chatStream(request, signal),
      };
      const { response, report } = await loop({ confidenceThreshold: 0.5 }, recording).run(
        question,
        [verifier],
        never,
      );
      expect(report.iterations).toHaveLength(2);
      expect(report.iterations[0]?.confidence).toBeLessThanOrEqual(0.5);
      expect(report.iterations[1]?.corrected).toBe(true);
      expect(report.chosen).toBe(2);
      expect(report.autoCorrected).toBe(true);
      expect(response.text).toBe(report.iterations[1]?.response);
      // The revision prompt carried the question, the draft and the verifier's complaint.
      const revision = requests[1]?.messages.at(-1)?.content ?? "";
      expect(revision).toContain("What is the capital of Portugal?");
      expect(revision).toContain(verifier.calls[0]);
      expect(revision).toContain("scripted: check 1 failed");
    });

    it("keeps the better draft when a later revision scores lower", async () => {
      const verifier = scriptedVerifier([true, false, false]);
      const { response, report } = await loop({ confidenceThreshold: 1 }).run(question, [verifier], never);
      expect(report.iterations).toHaveLength(3);
      expect(report.iterations[1]?.confidence).toBeLessThan(report.iterations[0]?.confidence ?? 0);
      expect(report.chosen).toBe(1);
      expect(report.autoCorrected).toBe(false);
      expect(report.iterations.slice(1).every((i) => !i.corrected)).toBe(true);
      expect(response.text).toBe(verifier.calls[0]);
    });

    it("revises a schema-invalid draft until it validates, or fails with OUTPUT_INVALID when capped", async () => {
      // The grammar cannot enforce maximum: the random model writes integers above it now and then.
      const schema = {
        type: "object",
        properties: { n: { type: "integer", minimum: 0, maximum: 9 } },
        required: ["n"],
        additionalProperties: false,
      };
      let corrected = 0;
      let capped = 0;
      for (let seed = 1; seed <= 40 && (corrected === 0 || capped === 0); seed++) {
        const request: ChatRequest = {
          messages: [{ role: "user", content: "Give a digit." }],
          jsonSchema: schema,
          sampling: { temperature: 1, seed, maxTokens: 16 },
        };
        try {
          const { response, report } = await loop({ confidenceThreshold: 0.4 }).run(request, [], never);
          const first = report.iterations[0]?.signals.verifiers?.[0];
          if (first?.ok !== false) continue;
          expect(first.issues[0]).toMatch(/does not match the JSON schema|not valid JSON|cut at max_tokens/);
          expect(report.chosen).toBeGreaterThan(1);
          const value = response.json as { n: number };
          expect(value.n).toBeGreaterThanOrEqual(0);
          expect(value.n).toBeLessThanOrEqual(9);
          expect(JSON.parse(response.text)).toEqual(value);
          corrected++;
        } catch (error) {
          expect(isAppError(error) && error.code).toBe("OUTPUT_INVALID");
          capped++;
        }
      }
      expect(corrected).toBeGreaterThan(0);
    });

    it("asks the model to grade itself under a grammar when the cheap signals do not decide", async () => {
      const { report } = await loop({ selfAssessment: true, confidenceThreshold: 1, maxIterations: 1 }).run(
        question,
        [],
        never,
      );
      const assessment = report.iterations[0]?.signals.selfAssessment;
      expect(assessment?.score).toBeGreaterThanOrEqual(0);
      expect(assessment?.score).toBeLessThanOrEqual(1);
      expect(Array.isArray(assessment?.issues)).toBe(true);
    });

    it("does not revise without a signal (a backend without token probabilities, no checks)", async () => {
      let calls = 0;
      const textOnly: LlmBackend = {
        chat: async (request, signal) => {
          calls++;
          const { tokenConfidence: _ignored, ...response } = await backend.chat(
            { ...request, tokenProbabilities: false },
            signal,
          );
          return response;
        },
        chatStream: (request, signal) => backend.chatStream(request, signal),
      };
      const { report } = await loop({ confidenceThreshold: 1 }, textOnly).run(question, [], never);
      expect(calls).toBe(1);
      expect(report.stoppedBy).toBe("no_signal");
      expect(report.iterations[0]?.confidence).toBeNull();
    });

    it("records the SHA-256 of the templates it used, and refuses a template without its placeholders", async () => {
      const { report } = await loop().run(question, [scriptedVerifier([true])], never);
      const critique = await readFile(path.join(builtinTemplatesDir, "critique.md"));
      expect(report.templates.critique).toBe(createHash("sha256").update(critique).digest("hex"));

      const dir = await mkdtemp(path.join(os.tmpdir(), "sarai-templates-"));
      try {
        await writeFile(path.join(dir, "critique.md"), "Improve {{answer}}.");
        await writeFile(path.join(dir, "assess.md"), "Grade {{answer}} for {{question}}.");
        expect(() => loadReflectionTemplates(dir)).toThrow(
          /critique template needs \{\{question\}\}, \{\{issues\}\}/,
        );
        await writeFile(path.join(dir, "critique.md"), "Fix {{issues}} in {{answer}} to {{question}}.");
        const custom = loadReflectionTemplates(dir);
        expect(custom.critique.sha256).not.toBe(report.templates.critique);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe("fallback model", () => {
    let dir: string;
    let tiny: string;

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), "sarai-fallback-"));
      tiny = await ensureTestModel();
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    const pipelineFor = (pool: ModelPool, timeoutMs = 30_000) =>
      new TurnPipeline({
        backend: new EmbeddedBackend({ pool }),
        reflexive: new ReflexiveLoop({
          backend: new EmbeddedBackend({ pool }),
          templates: loadReflectionTemplates(),
          settings: { ...settings, iterationTimeoutMs: timeoutMs },
        }),
        fallback: { timeoutMs },
      });

    it("answers with the fallback when the main model file is corrupt, flagged with the reason", async () => {
      const corrupt = path.join(dir, "corrupt.gguf");
      await writeFile(corrupt, Buffer.concat([Buffer.from("GGUF"), Buffer.alloc(4096, 7)]));
      const pool = await createPool({ main: corrupt, fallback: tiny });
      try {
        const turns = pipelineFor(pool);
        for (const reflect of [false, true]) {
          const response = await turns.run({ ...question, userId: "ana", reflect }, never);
          expect(response.text.length).toBeGreaterThan(0);
          expect(response.model).toBe(tiny);
          expect(response.fallback?.code).toMatch(/^MODEL_/);
          expect(response.fallback?.reason).toContain("corrupt.gguf");
          expect(response.fallback?.latencyMs).toBeGreaterThan(0);
        }
      } finally {
        await pool.dispose();
      }
    });

    it("answers with the fallback when the main model does not start within its timeout", async () => {
      const slow = await ensureTestModel(slowModelOptions);
      const pool = await createPool({ main: slow, fallback: tiny }, 4096);
      try {
        await pool.load("main");
        await pool.load("fallback");
        const turns = pipelineFor(pool, 400);
        // A long prompt (≈3,500 tokens): the larger model reads it in about a second, the tiny fallback in tens
        // of milliseconds.
        const longPrompt: ChatRequest = {
          messages: [{ role: "user", content: "palabra ".repeat(440) }],
          sampling: { temperature: 0, maxTokens: 16 },
        };
        const response = await turns.run({ ...longPrompt, userId: "ana" }, never);
        expect(response.model).toBe(tiny);
        expect(response.fallback?.code).toBe("MODEL_TIMEOUT");
        let streamed = "";
        let code: string | undefined;
        for await (const chunk of turns.stream({ ...longPrompt, userId: "ana" }, never)) {
          if (chunk.type === "delta") streamed += chunk.text;
          else code = (chunk.response as { fallback?: { code: string } }).fallback?.code;
        }
        expect(streamed.length).toBeGreaterThan(0);
        expect(code).toBe("MODEL_TIMEOUT");
      } finally {
        await pool.dispose();
      }
    });

    it("never cuts a plain answer that has started, however long it takes; a reflected one has an iteration timeout", async () => {
      const slow = await ensureTestModel(slowModelOptions);
      const pool = await createPool({ main: slow, fallback: tiny });
      try {
        await pool.load("main");
        await pool.load("fallback");
        const turns = pipelineFor(pool, 150);
        const long: ChatRequest = { ...question, sampling: { temperature: 0, maxTokens: 1000 } };
        const plain = await turns.run({ ...long, userId: "ana" }, never);
        expect(plain.model).toBe(slow);
        expect(plain.fallback).toBeUndefined();
        // The premise: the answer took longer than the timeout that did not cut it.
        expect(plain.timings.totalMs).toBeGreaterThan(150);
        const reflected = await turns.run({ ...long, userId: "ana", reflect: true }, never);
        expect(reflected.model).toBe(tiny);
        expect(reflected.fallback?.code).toBe("MODEL_TIMEOUT");
      } finally {
        await pool.dispose();
      }
    });

    it("streams the fallback's answer when the main model cannot load", async () => {
      const corrupt = path.join(dir, "corrupt-stream.gguf");
      await writeFile(corrupt, Buffer.concat([Buffer.from("GGUF"), Buffer.alloc(4096, 3)]));
      const pool = await createPool({ main: corrupt, fallback: tiny });
      try {
        let text = "";
        let fallbackCode: string | undefined;
        for await (const chunk of pipelineFor(pool).stream({ ...question, userId: "ana" }, never)) {
          if (chunk.type === "delta") text += chunk.text;
          else fallbackCode = (chunk.response as { fallback?: { code: string } }).fallback?.code;
        }
        expect(text.length).toBeGreaterThan(0);
        expect(fallbackCode).toMatch(/^MODEL_/);
      } finally {
        await pool.dispose();
      }
    });

    it("answers with the fallback when the main model's engine throws (a remote server that refuses)", async () => {
      // A port nothing listens on: the remote backend fails with UPSTREAM_UNAVAILABLE after its retries.
      const closed = net.createServer();
      await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
      const port = (closed.address() as net.AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const pool = await createPool({ main: tiny, fallback: tiny });
      const remote = new RemoteBackend({ baseUrl: `http://127.0.0.1:${port}/v1`, model: "m", retries: 0 });
      try {
        const embedded = new EmbeddedBackend({ pool });
        const router = new RoleRouter(
          new Map<ModelRole, LlmBackend>([
            ["main", remote],
            ["fallback", embedded],
          ]),
        );
        const turns = new TurnPipeline({
          backend: router,
          reflexive: new ReflexiveLoop({ backend: router, templates: loadReflectionTemplates(), settings }),
          fallback: { timeoutMs: 30_000 },
        });
        for (const reflect of [false, true]) {
          const response = await turns.run({ ...question, userId: "ana", reflect }, never);
          expect(response.fallback?.code).toBe("UPSTREAM_UNAVAILABLE");
          expect(response.model).toBe(tiny);
        }
      } finally {
        remote.dispose();
        await pool.dispose();
      }
    });

    it("does not fall back on the client's own mistakes", async () => {
      const pool = await createPool({ main: tiny, fallback: tiny });
      try {
        const error = await pipelineFor(pool)
          .run({ messages: [], userId: "ana" }, never)
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(AppError);
        expect((error as AppError).code).toBe("INVALID_REQUEST");
      } finally {
        await pool.dispose();
      }
    });
  });
});
