import { describe, expect, it } from "vitest";
import type { ChatRequest, ChatResponse, FinishReason, LlmBackend } from "../inference/index.js";
import { AppError } from "../shared/index.js";
import { runSkill } from "./runner.js";
import type { Skill } from "./skill.js";

type Reply = string | { text: string; finishReason: FinishReason } | Error;

/** A backend at the port: answers the given replies in order and records the requests. */
function scriptedBackend(replies: Reply[]): LlmBackend & { requests: ChatRequest[] } {
  const requests: ChatRequest[] = [];
  return {
    requests,
    chat(request) {
      requests.push(request);
      const reply = replies.shift();
      if (reply === undefined) throw new Error("no more scripted replies");
      if (reply instanceof Error) return Promise.reject(reply);
      const { text, finishReason } =
        typeof reply === "string" ? { text: reply, finishReason: "stop" as const } : reply;
      const response: ChatResponse = {
        text,
        finishReason,
        usage: { promptTokens: 10, completionTokens: 5 },
        timings: { timeToFirstTokenMs: 1, totalMs: 2, tokensPerSecond: 100 },
        model: "fake.gguf",
      };
      return Promise.resolve(response);
    },
    chatStream() {
      throw new Error("not used");
    },
  };
}

const committed: unknown[] = [];
const digits: Skill = {
  name: "digits",
  description: "answers with digits",
  outputKind: "json",
  maxTokens: 8,
  prompt: { system: "Answer with digits.", user: "Q: {{input}}" },
  constraint: () => ({ grammar: "root ::= [0-9]+" }),
  validate: (text) =>
    /^\d+$/.test(text) ? { ok: true, value: Number(text) } : { ok: false, error: `"${text}" is not digits` },
  commit: (value) => {
    committed.push(value);
    return { number: value };
  },
};

const signal = new AbortController().signal;

describe("skills", () => {
  describe("runSkill", () => {
    it("returns the first valid output with its value, the prompt rendered and the constraint applied", async () => {
      const backend = scriptedBackend(["42"]);
      const result = await runSkill(digits, {
        backend,
        input: "six times seven",
        userId: "u",
        signal,
        seed: 7,
      });
      expect(result).toMatchObject({
        skill: "digits",
        output: "42",
        value: { number: 42 },
        attempts: 1,
        errors: [],
      });
      expect(backend.requests[0]).toMatchObject({
        messages: [
          { role: "system", content: "Answer with digits." },
          { role: "user", content: "Q: six times seven" },
        ],
        grammar: "root ::= [0-9]+",
        sampling: { seed: 7, maxTokens: 8 },
      });
      expect(backend.requests[0]?.sampling?.temperature).toBeLessThanOrEqual(0.3);
    });

    it("retries an invalid output and an output cut at maxTokens, each with a new seed", async () => {
      const backend = scriptedBackend(["forty", { text: "4242424", finishReason: "length" }, "42"]);
      const result = await runSkill(digits, { backend, input: "x", userId: "u", signal, seed: 100 });
      expect(result.attempts).toBe(3);
      expect(result.errors).toEqual(['"forty" is not digits', "the output was cut at maxTokens (8)"]);
      expect(result.usage).toEqual({ promptTokens: 30, completionTokens: 15 });
      expect(backend.requests.map((r) => r.sampling?.seed)).toEqual([100, 101, 102]);
    });

    it("throws SKILL_OUTPUT_INVALID after the retries, naming the skill, the attempts and the last error", async () => {
      committed.length = 0;
      const backend = scriptedBackend(["a", "b"]);
      const error = await runSkill(digits, { backend, input: "x", userId: "u", signal, retries: 1 }).catch(
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: "SKILL_OUTPUT_INVALID", status: 422 });
      expect((error as AppError).message).toMatch(/"digits".*2 attempts.*"b" is not digits/);
      expect(committed).toEqual([]);
      expect(backend.requests).toHaveLength(2);
    });

    it("counts a length-cut output as invalid even when it would validate", async () => {
      const backend = scriptedBackend([{ text: "123", finishReason: "length" }]);
      await expect(
        runSkill(digits, { backend, input: "x", userId: "u", signal, retries: 0 }),
      ).rejects.toMatchObject({
        code: "SKILL_OUTPUT_INVALID",
        message: /1 attempt;.*maxTokens/,
      });
    });

    it("counts the backend's OUTPUT_INVALID as an attempt and throws other errors at once", async () => {
      const backend = scriptedBackend([new AppError("OUTPUT_INVALID", "not the schema"), "7"]);
      expect(await runSkill(digits, { backend, input: "x", userId: "u", signal })).toMatchObject({
        attempts: 2,
        errors: ["not the schema"],
      });
      const queueFull = scriptedBackend([new AppError("QUEUE_FULL", "busy"), "7"]);
      await expect(
        runSkill(digits, { backend: queueFull, input: "x", userId: "u", signal }),
      ).rejects.toMatchObject({
        code: "QUEUE_FULL",
      });
      expect(queueFull.requests).toHaveLength(1);
    });

    it("refuses a schema for a skill that takes none and a retry budget out of range", async () => {
      const backend = scriptedBackend(["1"]);
      await expect(
        runSkill(digits, { backend, input: "x", userId: "u", signal, schema: { type: "object" } }),
      ).rejects.toMatchObject({ code: "INVALID_REQUEST", param: "schema" });
      await expect(
        runSkill(digits, { backend, input: "x", userId: "u", signal, retries: 6 }),
      ).rejects.toMatchObject({
        code: "INVALID_REQUEST",
      });
    });
  });
});
