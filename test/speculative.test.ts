import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  EmbeddedBackend,
  ModelPool,
  SpeculativeStallError,
  draftIncompatibility,
  generateSpeculative,
  withWatchdog,
  type ChatRequest,
  type ChatResponse,
  type CompletionRequest,
  type RoleModelOptions,
  type SpeculativeEvent,
  type SpeculativeOptions,
} from "../src/inference/index.js";
import { startTestServer, metricValue } from "./api-helpers.js";
import { ensureTestModel, getTestLlama, tinyModelOptions } from "./models.js";

const signal = new AbortController().signal;
const codePrompt = "def main():\n    print(";

interface TestBackend {
  backend: EmbeddedBackend;
  pool: ModelPool;
  events: SpeculativeEvent[];
}

const opened: ModelPool[] = [];

async function makeBackend(
  roles: { main: string; draft?: string },
  speculative: Partial<SpeculativeOptions> = {},
): Promise<TestBackend> {
  const poolRoles: Partial<Record<"main" | "draft", RoleModelOptions>> = { main: { file: roles.main } };
  if (roles.draft !== undefined) poolRoles.draft = { file: roles.draft };
  const pool = new ModelPool({
    roles: poolRoles,
    threads: 1,
    batchSize: 512,
    contextSize: 1024,
    sequences: 1,
    ramBudgetBytes: 8 * 2 ** 30,
    llama: await getTestLlama(),
  });
  opened.push(pool);
  const events: SpeculativeEvent[] = [];
  const backend = new EmbeddedBackend({ pool, speculative, onSpeculative: (event) => events.push(event) });
  return { backend, pool, events };
}

function chat(content: string, sampling: ChatRequest["sampling"] = {}): ChatRequest {
  return { messages: [{ role: "user", content }], sampling: { temperature: 0, maxTokens: 48, ...sampling } };
}

function completion(prompt: string, sampling: CompletionRequest["sampling"] = {}): CompletionRequest {
  return { prompt, sampling: { temperature: 0, maxTokens: 96, ...sampling } };
}

let mainFile: string;
let alignedDraft: string;
let unrelatedDraft: string;
let plain: TestBackend;
let speculative: TestBackend;

beforeAll(async () => {
  mainFile = await ensureTestModel(tinyModelOptions);
  alignedDraft = await ensureTestModel({ draftFor: mainFile });
  // Same byte vocabulary, unrelated random weights: compatible, but it never guesses right.
  unrelatedDraft = await ensureTestModel({ seed: 5, layers: 1 });
  plain = await makeBackend({ main: mainFile });
  speculative = await makeBackend({ main: mainFile, draft: alignedDraft });
});

afterAll(async () => {
  for (const pool of opened) await pool.dispose();
});

describe("speculative decoding", () => {
  describe("greedy output", () => {
    it.each(["hello there", "¿Qué tal estás?", "Write a haiku about rain", "{"])(
      "is identical with and without a draft for the chat message %j",
      async (content) => {
        const alone = await plain.backend.chat(chat(content), signal);
        const drafted = await speculative.backend.chat(chat(content), signal);
        expect(drafted.text).toBe(alone.text);
        expect(drafted.finishReason).toBe(alone.finishReason);
        expect(drafted.usage).toEqual(alone.usage);
        expect(alone.timings.speculative).toBeUndefined();
        expect(drafted.timings.speculative?.skipped).toBeUndefined();
        expect(drafted.timings.speculative?.drafted).toBeGreaterThan(0);
      },
    );

    it.each([codePrompt, "The quick brown fox", "1, 2, 3,"])(
      "is identical with and without a draft for the completion of %j, drafted tokens mostly kept",
      async (prompt) => {
        const alone = await plain.backend.complete(completion(prompt), signal);
        const drafted = await speculative.backend.complete(completion(prompt), signal);
        expect(drafted.text).toBe(alone.text);
        expect(drafted.usage.completionTokens).toBe(alone.usage.completionTokens);
        const report = drafted.timings.speculative;
        expect(report).toBeDefined();
        expect(report?.accepted).toBeGreaterThan(0.8 * (report?.drafted ?? 0));
      },
    );

    it("stops at a stop string exactly where plain decoding stops", async () => {
      const reference = await plain.backend.complete(completion(codePrompt, { maxTokens: 64 }), signal);
      // A stop string taken from the middle of the reference text.
      const stop = reference.text.slice(20, 23);
      const request = completion(codePrompt, { maxTokens: 64, stop: [stop] });
      const alone = await plain.backend.complete(request, signal);
      const drafted = await speculative.backend.complete(request, signal);
      expect(alone.text.length).toBeLessThan(reference.text.length);
      expect(drafted.text).toBe(alone.text);
      expect(drafted.text).not.toContain(stop);
      expect(drafted.finishReason).toBe("stop");
    });

    it("streams deltas that add up to the same text", async () => {
      const deltas: string[] = [];
      let done: ChatResponse | undefined;
      for await (const chunk of speculative.backend.completeStream(completion(codePrompt), signal)) {
        if (chunk.type === "delta") deltas.push(chunk.text);
        else done = chunk.response;
      }
      const alone = await plain.backend.complete(completion(codePrompt), signal);
      expect(deltas.length).toBeGreaterThan(1);
      expect(deltas.join("")).toBe(alone.text);
      expect(done?.text).toBe(alone.text);
    });

    it("finishes with the same output for every draft length setting (no hang)", async () => {
      const reference = await plain.backend.complete(completion(codePrompt, { maxTokens: 64 }), signal);
      for (const [min, max] of [
        [1, 1],
        [1, 2],
        [2, 2],
        [1, 5],
        [3, 8],
        [8, 8],
        [1, 16],
        [16, 16],
      ] as const) {
        const pair = await makeBackend(
          { main: mainFile, draft: alignedDraft },
          { minDraftTokens: min, maxDraftTokens: max, stallTimeoutMs: 20_000 },
        );
        const drafted = await pair.backend.complete(completion(codePrompt, { maxTokens: 64 }), signal);
        expect(drafted.text, `draft tokens ${min}–${max}`).toBe(reference.text);
        const report = drafted.timings.speculative;
        // Every round drafts between min and max tokens (fewer only at the very end).
        expect(report?.drafted).toBeGreaterThanOrEqual(Math.min(min, 63));
        await pair.pool.dispose();
      }
    });

    it("takes the grammar path without the draft and says why", async () => {
      const response = await speculative.backend.chat(
        { ...chat("yes or no?"), grammar: 'root ::= "yes" | "no"' },
        signal,
      );
      expect(["yes", "no"]).toContain(response.text);
      expect(response.timings.speculative?.skipped).toMatch(/grammar/);
      expect(response.timings.speculative?.drafted).toBe(0);
    });
  });

  describe("sampling", () => {
    it("gives the same text for the same seed, and varies with the seed", async () => {
      const sampled = (seed: number) =>
        speculative.backend.complete(completion(codePrompt, { temperature: 0.9, topK: 20, seed }), signal);
      const a = await sampled(3);
      const b = await sampled(3);
      expect(b.text).toBe(a.text);
      expect(a.timings.speculative?.drafted).toBeGreaterThan(0);
      const others = new Set<string>();
      for (const seed of [4, 5, 6, 7]) others.add((await sampled(seed)).text);
      others.add(a.text);
      expect(others.size).toBeGreaterThan(1);
    });

    it("keeps the main model's distribution even when the draft disagrees with it", async () => {
      // Speculative sampling with an unrelated draft must still sample the main model: the distribution
      // of the second and third tokens matches plain sampling, and is far from the draft's own.
      const runs = 240;
      const sampling = { temperature: 1, topK: 8, maxTokens: 3 };
      const pair = await makeBackend(
        { main: mainFile, draft: unrelatedDraft },
        { windowTokens: 1024, acceptanceFloor: 0 },
      );
      const draftAlone = await makeBackend({ main: unrelatedDraft });
      const histogram = async (backend: EmbeddedBackend, seedBase: number) => {
        const counts = new Map<string, number>();
        for (let i = 0; i < runs; i++) {
          const response = await backend.complete(
            completion(codePrompt, { ...sampling, seed: seedBase + i }),
            signal,
          );
          const key = [...response.text].slice(1, 3).join("");
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
        return counts;
      };
      const totalVariation = (a: Map<string, number>, b: Map<string, number>) => {
        let sum = 0;
        for (const key of new Set([...a.keys(), ...b.keys()])) {
          sum += Math.abs((a.get(key) ?? 0) - (b.get(key) ?? 0)) / runs;
        }
        return sum / 2;
      };
      const plainA = await histogram(plain.backend, 10_000);
      const plainB = await histogram(plain.backend, 20_000);
      const drafted = await histogram(pair.backend, 30_000);
      const wrong = await histogram(draftAlone.backend, 40_000);
      const noise = totalVariation(plainA, plainB);
      expect(totalVariation(plainA, drafted)).toBeLessThan(Math.max(0.2, 2 * noise));
      expect(totalVariation(plainA, wrong)).toBeGreaterThan(0.5);
      await pair.pool.dispose();
      await draftAlone.pool.dispose();
    });
  });

  describe("pairs", () => {
    it("refuses a draft with another vocabulary at load, with a clear error, and answers without it", async () => {
      const otherVocabulary = await ensureTestModel({ seed: 1, tokenizer: "qwen2" });
      const pair = await makeBackend({ main: mainFile, draft: otherVocabulary });
      const reason = await pair.backend.checkDraft();
      expect(reason).toContain(otherVocabulary);
      expect(reason).toContain(mainFile);
      expect(reason).toMatch(/vocabulary (types|sizes) differ/);
      const alone = await plain.backend.chat(chat("hello"), signal);
      const response = await pair.backend.chat(chat("hello"), signal);
      expect(response.text).toBe(alone.text);
      expect(response.timings.speculative?.skipped).toBe(reason);
      expect(pair.events.filter((e) => e.kind === "refused")).toHaveLength(1);
      expect(pair.backend.draftPair.state.state).toBe("refused");
      await pair.pool.dispose();
    });

    it("accepts the aligned draft and names the first differing token of two byte vocabularies", async () => {
      const llama = await getTestLlama();
      const main = await llama.loadModel({ modelPath: mainFile });
      const draft = await llama.loadModel({ modelPath: alignedDraft });
      expect(draftIncompatibility(main, draft)).toBeUndefined();
      await main.dispose();
      await draft.dispose();
    });

    it("goes on without an unrelated draft once acceptance falls under the floor, output unchanged", async () => {
      const pair = await makeBackend(
        { main: mainFile, draft: unrelatedDraft },
        { windowTokens: 8, fallbackAfter: 2, cooldownMs: 60_000 },
      );
      const alone = await plain.backend.complete(completion(codePrompt), signal);
      const first = await pair.backend.complete(completion(codePrompt), signal);
      expect(first.text).toBe(alone.text);
      expect(first.timings.speculative?.fellBack).toBe(true);
      expect(first.timings.speculative?.accepted).toBe(0);
      // The window is 8 drafted tokens; adaptive k is 1 after a miss, so about 8–12 are drafted, not 96.
      expect(first.timings.speculative?.drafted).toBeLessThanOrEqual(16);

      // A second request in a row under the floor pauses the pair: the third decodes plain, and says why.
      const second = await pair.backend.complete(completion(codePrompt), signal);
      expect(second.timings.speculative?.fellBack).toBe(true);
      const speculated = pair.events.filter((e) => e.kind === "speculated");
      expect(speculated.map((e) => e.kind === "speculated" && e.paused)).toEqual([false, true]);
      const third = await pair.backend.complete(completion(codePrompt), signal);
      expect(third.text).toBe(alone.text);
      expect(third.timings.speculative?.skipped).toMatch(/acceptance stayed under the floor/);
      expect(third.timings.speculative?.drafted).toBe(0);
      await pair.pool.dispose();
    });

    it("probes the draft again when the pause is over", async () => {
      const pair = await makeBackend(
        { main: mainFile, draft: unrelatedDraft },
        { windowTokens: 8, fallbackAfter: 1, cooldownMs: 0 },
      );
      const first = await pair.backend.complete(completion(codePrompt), signal);
      expect(first.timings.speculative?.fellBack).toBe(true);
      const again = await pair.backend.complete(completion(codePrompt), signal);
      expect(again.timings.speculative?.skipped).toBeUndefined();
      expect(again.timings.speculative?.drafted).toBeGreaterThan(0);
      await pair.pool.dispose();
    });
  });

  describe("watchdog", () => {
    it("turns an evaluation that never returns into a stall error", async () => {
      const { pool } = await makeBackend({ main: mainFile, draft: alignedDraft });
      const main = await pool.acquire("main", signal);
      const draft = await pool.acquire("draft", signal);
      // The draft's evaluation never settles, as node-llama-cpp's own predictor can stall.
      const stuck = new Proxy(draft.sequence, {
        get(target, property, receiver) {
          if (property === "controlledEvaluate") return () => new Promise(() => {});
          const value: unknown = Reflect.get(target, property, receiver);
          return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      const started = performance.now();
      await expect(
        generateSpeculative({
          target: { model: main.model, sequence: main.sequence },
          draft: { model: draft.model, sequence: stuck },
          promptTokens: main.model.tokenize(codePrompt),
          maxTokens: 32,
          sampling: { temperature: 0, topK: 40, topP: 0.95 },
          stopTokens: new Set(),
          stopTexts: [],
          repeatPenalty: true,
          signal,
          settings: {
            minDraftTokens: 1,
            maxDraftTokens: 4,
            acceptanceFloor: 0.6,
            windowTokens: 32,
            stallTimeoutMs: 300,
            baselineEvery: 0,
          },
        }),
      ).rejects.toThrow(SpeculativeStallError);
      expect(performance.now() - started).toBeLessThan(5_000);
      await main.release();
      await pool.dispose();
    });

    it("keeps the process alive until a stall is reported, instead of exiting with code 0", () => {
      const script =
        "import('./src/inference/speculative.ts').then(async ({ withWatchdog }) => {" +
        " try { await withWatchdog(new Promise(() => {}), 200, 'a test evaluation'); }" +
        " catch (error) { console.error(error.message); process.exit(3); } });";
      const result = spawnSync(process.execPath, ["--import", "tsx", "-e", script], {
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(result.status).toBe(3);
      expect(result.stderr).toContain("a test evaluation did not finish within 200 ms");
    });

    it("passes a settled value through", async () => {
      await expect(withWatchdog(Promise.resolve(7), 1_000, "x")).resolves.toBe(7);
    });
  });

  describe("over HTTP", () => {
    it("reports drafted and accepted tokens under sarai.timings and in the metrics", async () => {
      const server = await startTestServer({ draft: alignedDraft });
      try {
        const reply = await server.server.fastify.inject({
          method: "POST",
          url: "/v1/completions",
          payload: { model: server.modelId, prompt: codePrompt, max_tokens: 48, temperature: 0 },
        });
        expect(reply.statusCode).toBe(200);
        const timings = reply.json<{ sarai: { timings: Record<string, unknown> } }>().sarai.timings;
        expect(timings["drafted_tokens"]).toEqual(expect.any(Number));
        expect(timings["accepted_tokens"]).toBeGreaterThan(0);
        expect(timings["speculative_fell_back"]).toBe(false);
        const metrics = await server.server.fastify.inject({ method: "GET", url: "/metrics" });
        expect(metricValue(metrics.body, "sarai_speculative_accepted_tokens_total")).toBe(
          timings["accepted_tokens"],
        );
        expect(metricValue(metrics.body, "sarai_speculative_acceptance_rate")).toBeGreaterThan(0.5);
        const ready = await server.server.fastify.inject({ method: "GET", url: "/ready" });
        const draft = ready.json<{ components: Record<string, { status: string; detail: string }> }>()
          .components["draft"];
        expect(draft?.status).toBe("ok");
        expect(draft?.detail).toMatch(/^acceptance \d+%/);
      } finally {
        await server.close();
      }
    });
  });
});
