/**
 * The reflexive loop's and the fallback's decisions, with the model at the port scripted (as turn-skills.test.ts
 * does): which iteration wins, what a failing check or fallback does, what an abort does. The same paths run on
 * real generated models in reflect.test.ts; here each outcome is forced, so every branch is reached.
 */
import { describe, expect, it } from "vitest";
import {
  loadReflectionTemplates,
  ReflexiveLoop,
  TurnPipeline,
  type ReflectSettings,
  type Verifier,
} from "../src/assistant/index.js";
import {
  OutputInvalidError,
  type ChatRequest,
  type ChatResponse,
  type ChatStreamChunk,
  type LlmBackend,
} from "../src/inference/index.js";
import { AbortedError, AppError } from "../src/shared/index.js";

const never = new AbortController().signal;
const settings: ReflectSettings = {
  maxIterations: 3,
  confidenceThreshold: 0.85,
  iterationTimeoutMs: 5_000,
  deadlineMs: 10_000,
  selfAssessment: false,
};

function response(text: string, role = "main"): ChatResponse {
  return {
    text,
    finishReason: "stop",
    usage: { promptTokens: 3, completionTokens: 2 },
    timings: { timeToFirstTokenMs: 1, totalMs: 2, tokensPerSecond: 10 },
    model: role,
  };
}

type Step = (request: ChatRequest, signal: AbortSignal) => Promise<ChatResponse>;

/** A backend whose calls, per role, follow a script of steps; records the roles it was asked for. */
function scripted(steps: { main?: Step[]; fallback?: Step[] }): LlmBackend & { calls: string[] } {
  const calls: string[] = [];
  const next = (request: ChatRequest): Step => {
    const role = request.role ?? "main";
    calls.push(role);
    const list = role === "fallback" ? steps.fallback : steps.main;
    const step = list?.shift();
    if (step === undefined) throw new Error(`no scripted step left for ${role}`);
    return step;
  };
  return {
    calls,
    chat: (request, signal) => next(request)(request, signal),
    async *chatStream(request, signal): AsyncGenerator<ChatStreamChunk, void, undefined> {
      const done = await next(request)(request, signal);
      yield { type: "delta", text: done.text };
      yield { type: "done", response: done };
    },
  };
}

const answer =
  (text: string, role?: string): Step =>
  () =>
    Promise.resolve(response(text, role));
const invalidJson =
  (text: string): Step =>
  () =>
    Promise.reject(
      new OutputInvalidError(
        "the output does not match the JSON schema: /n must be <= 9",
        text,
        "jsonSchema",
      ),
    );
const fail =
  (code: "INFERENCE_FAILED" | "INVALID_REQUEST", message: string): Step =>
  () =>
    Promise.reject(new AppError(code, message));
/** Never answers; rejects with the abort error when its signal fires. */
const hang: Step = (_request, signal) =>
  new Promise((_, reject) => {
    signal.addEventListener("abort", () => reject(new AbortedError()), { once: true });
  });

function verifier(results: (boolean | "throws")[]): Verifier {
  let call = 0;
  return {
    name: "check",
    verify() {
      const result = results[call++] ?? false;
      if (result === "throws") return Promise.reject(new Error("spawn python3 EAGAIN"));
      return Promise.resolve({ name: "check", ok: result, issues: result ? [] : ["wrong"] });
    },
  };
}

const question: ChatRequest = { messages: [{ role: "user", content: "q" }] };
const loopOver = (backend: LlmBackend, overrides: Partial<ReflectSettings> = {}) =>
  new ReflexiveLoop({
    backend,
    templates: loadReflectionTemplates(),
    settings: { ...settings, ...overrides },
  });

describe("assistant", () => {
  describe("reflexive loop decisions", () => {
    it("ranks a schema-valid iteration above an invalid one of equal confidence", async () => {
      // Iteration 1: invalid JSON that passes the other check (0.5 with the cap); iteration 2: valid JSON that
      // fails the check (also 0.5). The valid one must win, or a schema request would fail although one validated.
      const backend = scripted({
        main: [invalidJson('{"n": 12}'), answer('{"n": 3}'), invalidJson('{"n": 40}')],
      });
      const schemaQuestion: ChatRequest = { ...question, jsonSchema: { type: "object" } };
      const { response: best, report } = await loopOver(backend, { confidenceThreshold: 1 }).run(
        schemaQuestion,
        [verifier([true, false, true])],
        never,
      );
      expect(report.iterations.map((i) => i.confidence)).toEqual([0.5, 0.5, 0.5]);
      expect(report.chosen).toBe(2);
      expect(best.text).toBe('{"n": 3}');
    });

    it("fails a schema request with OUTPUT_INVALID when no iteration validated, carrying the report", async () => {
      const backend = scripted({ main: [invalidJson("{"), invalidJson("{}"), invalidJson("[]")] });
      const error = await loopOver(backend)
        .run({ ...question, jsonSchema: { type: "object" } }, [], never)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe("OUTPUT_INVALID");
      expect((error as { report?: { iterations: unknown[] } }).report?.iterations).toHaveLength(3);
    });

    it("counts a check that cannot run as failed, never as passed", async () => {
      const backend = scripted({ main: [answer("a"), answer("b")] });
      const { report } = await loopOver(backend, { maxIterations: 2 }).run(
        question,
        [verifier(["throws", true])],
        never,
      );
      expect(report.iterations[0]?.signals.verifiers?.[0]).toMatchObject({
        ok: false,
        issues: ["the check check could not run: spawn python3 EAGAIN"],
      });
      expect(report.chosen).toBe(2);
    });

    it("ends with the best answer so far when a revision fails", async () => {
      const backend = scripted({ main: [answer("draft"), fail("INFERENCE_FAILED", "boom")] });
      const { response: best, report } = await loopOver(backend).run(question, [verifier([false])], never);
      expect(best.text).toBe("draft");
      expect(report.stoppedBy).toBe("failed");
      expect(report.iterations[1]?.error).toBe("INFERENCE_FAILED: boom");
    });
  });

  describe("fallback decisions", () => {
    const pipeline = (backend: LlmBackend, timeoutMs = 5_000) =>
      new TurnPipeline({ backend, fallback: { timeoutMs } });
    const turn = { ...question, userId: "u" };

    it("returns the main model's error when the fallback fails too (chat and stream)", async () => {
      for (const streamed of [false, true]) {
        const backend = scripted({
          main: [fail("INFERENCE_FAILED", "main broke")],
          fallback: [fail("INFERENCE_FAILED", "fallback broke")],
        });
        const turns = pipeline(backend);
        const run = streamed
          ? (async () => {
              for await (const _chunk of turns.stream(turn, never));
            })()
          : turns.run(turn, never);
        await expect(run).rejects.toThrow("main broke");
        expect(backend.calls).toEqual(["main", "fallback"]);
      }
    });

    it("gives the fallback no first-token deadline of its own: a slow one is waited for until the client aborts", async () => {
      for (const streamed of [false, true]) {
        const controller = new AbortController();
        const backend = scripted({ main: [fail("INFERENCE_FAILED", "main broke")], fallback: [hang] });
        const turns = pipeline(backend, 100);
        const run = streamed
          ? (async () => {
              for await (const _chunk of turns.stream(turn, controller.signal));
            })()
          : turns.run(turn, controller.signal);
        // Three timeouts later the fallback is still being waited for; only the client's abort ends it.
        setTimeout(() => controller.abort(), 300);
        await expect(run).rejects.toBeInstanceOf(AbortedError);
        expect(backend.calls).toEqual(["main", "fallback"]);
      }
    });

    it("never falls back after the client aborted, nor on the client's own mistake", async () => {
      const controller = new AbortController();
      const backend = scripted({
        main: [hang, fail("INVALID_REQUEST", "bad field")],
        fallback: [answer("x")],
      });
      const turns = pipeline(backend);
      const run = turns.run(turn, controller.signal);
      setTimeout(() => controller.abort(), 20);
      await expect(run).rejects.toBeInstanceOf(AbortedError);
      await expect(turns.run(turn, never)).rejects.toThrow("bad field");
      expect(backend.calls).toEqual(["main", "main"]);
    });

    it("does not retry a request addressed to the fallback model on itself, streamed or not", async () => {
      for (const streamed of [false, true]) {
        const backend = scripted({ fallback: [fail("INFERENCE_FAILED", "fallback broke"), answer("y")] });
        const turns = pipeline(backend);
        const direct = { ...turn, role: "fallback" as const };
        const run = streamed
          ? (async () => {
              for await (const _chunk of turns.stream(direct, never));
            })()
          : turns.run(direct, never);
        await expect(run).rejects.toThrow("fallback broke");
        expect(backend.calls).toEqual(["fallback"]);
      }
    });

    it("answers from the fallback when the main model does not start in time, flagged MODEL_TIMEOUT", async () => {
      const backend = scripted({ main: [hang], fallback: [answer("from fallback", "fallback")] });
      const result = await pipeline(backend, 50).run(turn, never);
      expect(result.text).toBe("from fallback");
      expect(result.fallback).toMatchObject({ code: "MODEL_TIMEOUT" });
    });
  });
});
