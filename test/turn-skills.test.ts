import { describe, expect, it } from "vitest";
import { TurnPipeline, type TurnRequest } from "../src/assistant/index.js";
import type { ChatRequest, ChatResponse, ChatStreamChunk, LlmBackend } from "../src/inference/index.js";
import { SkillService, type Skill } from "../src/skills/index.js";

/** The model at the port: echoes a fixed text and records the requests (plain chat and skill calls alike). */
function recordingBackend(text: string): LlmBackend & { requests: ChatRequest[] } {
  const requests: ChatRequest[] = [];
  const respond = (request: ChatRequest): ChatResponse => {
    requests.push(request);
    return {
      text,
      finishReason: "stop",
      usage: { promptTokens: 3, completionTokens: 2 },
      timings: { timeToFirstTokenMs: 1, totalMs: 2, tokensPerSecond: 10 },
      model: "scripted",
    };
  };
  return {
    requests,
    chat: (request) => Promise.resolve(respond(request)),
    async *chatStream(request): AsyncGenerator<ChatStreamChunk, void, undefined> {
      const response = respond(request);
      await Promise.resolve();
      yield { type: "delta", text: response.text };
      yield { type: "done", response };
    },
  };
}

const summary: Skill = {
  name: "summarize_markdown",
  description: "test summary skill",
  outputKind: "markdown",
  maxTokens: 50,
  prompt: { system: "Summarise.", user: "{{input}}" },
  constraint: () => ({ grammar: 'root ::= "# " [a-z]+' }),
  validate: (text) =>
    text.startsWith("# ") ? { ok: true, value: text } : { ok: false, error: "no heading" },
};

function pipeline(text: string, autoRoute = true) {
  const backend = recordingBackend(text);
  const skills = new SkillService({ backend, skills: [summary], autoRoute, retries: 0 });
  return { backend, turns: new TurnPipeline({ backend, skills }) };
}

const signal = new AbortController().signal;
const ask = (content: string, extra: Partial<TurnRequest> = {}): TurnRequest => ({
  userId: "u",
  messages: [{ role: "user", content }],
  ...extra,
});

describe("assistant", () => {
  describe("skill routing", () => {
    it("routes a message the classifier recognises and answers with the skill's validated output", async () => {
      const { backend, turns } = pipeline("# resumen");
      const response = await turns.run(ask("Resume este texto: hoy llovió"), signal);
      expect(response.text).toBe("# resumen");
      expect(response.skill).toEqual({ name: "summarize_markdown", attempts: 1, value: "# resumen" });
      expect(backend.requests[0]?.grammar).toBe('root ::= "# " [a-z]+');
    });

    it("keeps plain chat for other messages, with auto-routing off, and for turns with their own constraint", async () => {
      for (const [turn, autoRoute] of [
        [ask("hola"), true],
        [ask("Resume este texto: hoy llovió"), false],
        [ask("Summarize this", { jsonObject: true }), true],
        // Skills read text only: a message with an image goes to the model whole, never to a skill.
        [
          {
            userId: "u",
            messages: [
              {
                role: "user",
                content: "Resume esta imagen",
                images: [{ data: Buffer.from("RIFF0000WEBP"), mimeType: "image/webp" }],
              },
            ],
          },
          true,
        ],
      ] as const) {
        const { backend, turns } = pipeline("# x", autoRoute);
        const response = await turns.run(turn, signal);
        expect(response.skill).toBeUndefined();
        expect(backend.requests[0]?.grammar).toBeUndefined();
        expect(backend.requests[0]?.messages.at(-1)?.images).toEqual(turn.messages.at(-1)?.images);
      }
    });

    it("runs an explicit skill even when auto-routing is off, and refuses an unknown one", async () => {
      const { turns } = pipeline("# ok", false);
      expect((await turns.run(ask("hola", { skill: "summarize_markdown" }), signal)).skill?.name).toBe(
        "summarize_markdown",
      );
      await expect(turns.run(ask("hola", { skill: "nope" }), signal)).rejects.toMatchObject({
        code: "INVALID_REQUEST",
        param: "skill",
      });
    });

    it("streams a skill turn as one delta and a done carrying the skill", async () => {
      const { turns } = pipeline("# stream");
      const chunks: ChatStreamChunk[] = [];
      for await (const chunk of turns.stream(ask("tl;dr please", {}), signal)) chunks.push(chunk);
      expect(chunks.map((chunk) => chunk.type)).toEqual(["delta", "done"]);
      expect(chunks[0]).toEqual({ type: "delta", text: "# stream" });
      expect(chunks[1]).toMatchObject({ response: { skill: { name: "summarize_markdown" } } });
    });

    it("fails a skill turn whose output never validates instead of answering with it", async () => {
      const { turns } = pipeline("no heading here");
      await expect(turns.run(ask("Summarize this please"), signal)).rejects.toMatchObject({
        code: "SKILL_OUTPUT_INVALID",
      });
    });
  });
});
