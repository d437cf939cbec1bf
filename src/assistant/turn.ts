import type {
  ChatMessage,
  ChatRequest,
  ChatResponse,
  ChatStreamChunk,
  LlmBackend,
} from "../inference/index.js";
import { formatFact, type EntityMemory, type LearnResult, type RecallContext } from "../memory/index.js";
import type { GuardAction, GuardSource, InjectionGuard, ScreenResult } from "../security/index.js";
import type { Skill, SkillResult, SkillService } from "../skills/index.js";
import { AbortedError, AppError, isAppError, type ErrorCode } from "../shared/index.js";
import {
  ReflectionFailedError,
  type ReflectionReport,
  type ReflectSettings,
  type ReflexiveLoop,
} from "./reflexive-loop.js";
import { lastUserText } from "./messages.js";
import { createVerifier, type VerifierServices, type VerifySpec } from "./verifiers.js";

/** One user turn as the assistant sees it: the chat request plus who asked. */
export interface TurnRequest extends ChatRequest {
  /** The user every subsystem scopes by (memory, feedback, audit); `anonymous` when the client gives none. */
  userId: string;
  /** Identifies the turn in stored facts (`messageId`); the API's completion id. */
  turnId?: string;
  /** Skip memory for this turn: no recall, nothing stored. Default: false. */
  noMemory?: boolean;
  /** Run this skill on the last user message instead of plain chat (unknown: `INVALID_REQUEST`, `skill`). */
  skill?: string;
  /** Reflect on the answer (draft → critique → revise, ≤ 3 iterations). Default: `reflect.enabled`. */
  reflect?: boolean;
  /** A check the answer must pass; a failing check is the signal the reflexive loop revises on. */
  verify?: VerifySpec;
  /** Per-turn limits of the reflexive loop (the CLI's --max-iterations). */
  reflectSettings?: Partial<ReflectSettings>;
}

/** The fallback model answered because the main one failed. */
export interface TurnFallback {
  /** The main model's error code (`REQUEST_TIMEOUT` when it took too long). */
  code: ErrorCode;
  /** Why, in one line. */
  reason: string;
  /** Milliseconds from the main model's failure to the fallback's answer. */
  latencyMs: number;
}

/** What memory did in a turn: facts recalled into the prompt and facts stored from the exchange. */
export interface TurnMemoryReport {
  userId: string;
  recalled: number;
  stored: LearnResult["results"];
  /** Set for the model extractor's share, stored after the answer (`recalled` is then 0, not a recall). */
  background?: true;
}

/** A text the injection guard did not pass as benign in a turn, and what it did about it. */
export interface TurnGuardHit {
  source: GuardSource;
  action: GuardAction;
  score: number;
  techniques: string[];
}

/** A turn's answer: the model's response plus what memory did. */
export interface TurnResponse extends ChatResponse {
  /** What the injection guard flagged or cut in this turn (absent when everything was benign). */
  guard?: TurnGuardHit[];
  memory?: { recalled: number[]; stored: number[] };
  /** The skill that answered: its validated value and the generations it took. */
  skill?: { name: string; attempts: number; value: unknown };
  /** What the reflexive loop did, when the turn reflected. */
  reflection?: ReflectionReport;
  /** Set when the fallback model answered. */
  fallback?: TurnFallback;
}

export interface TurnPipelineOptions {
  backend: LlmBackend;
  /** Entity memory; without it turns are plain generation. */
  memory?: EntityMemory;
  /** Called after each turn that used memory (metrics, logs). */
  onMemory?: (report: TurnMemoryReport) => void;
  /** Called when memory fails; the turn itself still succeeds. */
  onMemoryError?: (error: unknown) => void;
  /** Skills: a turn runs one when it names it, or when the router's classifier picks one. */
  skills?: SkillService;
  /** Called after each skill turn (metrics, logs). */
  onSkill?: (result: SkillResult) => void;
  /** Called when a turn starts (the proactive loop's activity record: an active user gets no suggestion). */
  onTurn?: (turn: TurnRequest) => void;
  /** The reflexive loop; without it a turn asking to reflect is an `INVALID_REQUEST`. */
  reflexive?: ReflexiveLoop;
  /** Reflect when a turn does not say. Default: false. */
  reflectByDefault?: boolean;
  /** Collaborators of `verify` checks (the SQL dry run). */
  verifierServices?: VerifierServices;
  /**
   * Answer with the `fallback` role when the main model fails, times out (after `fallbackTimeoutMs`) or cannot
   * load. Only set it when a fallback role is configured.
   */
  fallback?: { timeoutMs: number };
  /** Called after each reflected turn (metrics). */
  onReflection?: (report: ReflectionReport) => void;
  /** Called when the fallback answered (metrics, logs). */
  onFallback?: (fallback: TurnFallback) => void;
  /**
   * The prompt-injection guard: screens the user's turn and the recalled facts by its policy (`block` refuses
   * the turn with `INPUT_BLOCKED`, `sanitize` cuts the offending sentences, `flag` marks them); a turn that reads
   * as an attack stores nothing in memory.
   */
  guard?: InjectionGuard;
}

/** Errors of the main model that the fallback may answer; a client's own mistakes are never retried. */
const fallbackCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "INFERENCE_FAILED",
  "MODEL_LOAD_FAILED",
  "MODEL_INVALID_FILE",
  "MODEL_TRUNCATED",
  "MODEL_NOT_FOUND",
  "MODEL_TOO_LARGE",
  "UPSTREAM_UNAVAILABLE",
  "UPSTREAM_TIMEOUT",
  "MODEL_TIMEOUT",
  "INTERNAL",
]);

/**
 * The assistant's turn pipeline (ARCHITECTURE.md): guard → memory recall → skill routing → generation →
 * reflection → memory store → events. Memory recall puts what is known about the entities in the message into
 * the system prompt; after the answer, the facts of the user's message (0.9) and of the reply (0.7) are stored.
 * Pure orchestration: no I/O of its own.
 */
export class TurnPipeline {
  readonly #backend: LlmBackend;
  readonly #memory: EntityMemory | undefined;
  readonly #options: TurnPipelineOptions;
  readonly #background = new Set<Promise<unknown>>();

  constructor(options: TurnPipelineOptions) {
    this.#backend = options.backend;
    this.#memory = options.memory;
    this.#options = options;
  }

  async run(given: TurnRequest, signal: AbortSignal): Promise<TurnResponse> {
    this.#started(given);
    const { turn, hits } = this.#screen(given);
    const skill = this.#routeSkill(turn);
    if (skill !== undefined) return withGuard(await this.#runSkill(skill, turn, signal), hits);
    const recalled = this.#recall(turn, hits);
    const response = withGuard(await this.#answer(turn, toChatRequest(turn, recalled), signal), hits);
    return withMemory(response, recalled, this.#learn(turn, recalled, response.text, hits));
  }

  /** Whether this turn reflects: its own flag, else `verify` or the configured default (the CLI asks too). */
  reflects(turn: TurnRequest): boolean {
    const wanted = turn.reflect ?? (turn.verify !== undefined || this.#options.reflectByDefault === true);
    if (wanted && this.#options.reflexive === undefined) {
      throw new AppError("INVALID_REQUEST", "reflection is not available on this server", {
        param: "reflect",
      });
    }
    return wanted;
  }

  /** The answer to a plain (non-skill) turn: reflected or not, from the fallback when the main model fails. */
  async #answer(turn: TurnRequest, request: ChatRequest, signal: AbortSignal): Promise<TurnResponse> {
    const reflexive = this.reflects(turn) ? this.#options.reflexive : undefined;
    const fallback = this.#canFallBack(request) ? this.#options.fallback : undefined;
    const main = async (mainSignal: AbortSignal): Promise<TurnResponse> => {
      if (reflexive === undefined) {
        if (fallback === undefined) return this.#backend.chat(request, mainSignal);
        return this.#collect(request, mainSignal, fallback.timeoutMs);
      }
      const verifiers =
        turn.verify === undefined
          ? []
          : [createVerifier(turn.verify, turn.userId, this.#options.verifierServices)];
      try {
        const outcome = await reflexive.run(request, verifiers, mainSignal, turn.reflectSettings);
        this.#options.onReflection?.(outcome.report);
        return { ...outcome.response, reflection: outcome.report };
      } catch (error) {
        if (error instanceof ReflectionFailedError) this.#options.onReflection?.(error.report);
        throw error;
      }
    };
    if (fallback === undefined) return main(signal);
    try {
      // The reflexive loop times its own iterations; a plain answer must start within the timeout.
      return await main(signal);
    } catch (error) {
      const failure = this.#fallbackReason(error, signal, fallback.timeoutMs);
      if (failure === undefined) throw error;
      const failedAt = performance.now();
      const { tokenProbabilities: _probabilities, ...plain } = request;
      let response: ChatResponse;
      try {
        // The last resort gets no first-token deadline: a slow answer beats none (the client's signal bounds it).
        response = await this.#backend.chat({ ...plain, role: "fallback" }, signal);
      } catch (fallbackError) {
        // The fallback could not answer either (or cannot take this request, e.g. its images): the main
        // model's error is the one that explains the failure, unless the client gave up.
        throw signal.aborted ? fallbackError : error;
      }
      const used: TurnFallback = { ...failure, latencyMs: performance.now() - failedAt };
      this.#options.onFallback?.(used);
      return { ...response, fallback: used };
    }
  }

  /** Whether a failure of this request's model may be answered by the fallback: a main-model request only. */
  #canFallBack(request: ChatRequest): boolean {
    return this.#options.fallback !== undefined && (request.role ?? "main") === "main";
  }

  /**
   * One answer through the streaming port, so that "too slow" means no first token within `firstTokenMs` (an
   * unresponsive model), never a long answer that is still being written.
   */
  async #collect(request: ChatRequest, signal: AbortSignal, firstTokenMs: number): Promise<ChatResponse> {
    const watch = new FirstTokenWatch(signal, firstTokenMs);
    try {
      for await (const chunk of this.#backend.chatStream(request, watch.signal)) {
        watch.started();
        if (chunk.type === "done") return chunk.response;
      }
    } catch (error) {
      throw watch.timedOut ? watch.timeoutError(error) : error;
    } finally {
      watch.dispose();
    }
    throw new AppError("INTERNAL", "the answer ended without a result");
  }

  /** Why the fallback should answer after `error`, or undefined when the error is the client's own. */
  #fallbackReason(
    error: unknown,
    signal: AbortSignal,
    timeoutMs: number,
  ): Omit<TurnFallback, "latencyMs"> | undefined {
    if (signal.aborted) return undefined;
    if (isAppError(error) && error.code === "MODEL_TIMEOUT") {
      return { code: "MODEL_TIMEOUT", reason: `the main model did not answer within ${timeoutMs} ms` };
    }
    if (error instanceof AbortedError) return undefined;
    if (!isAppError(error)) {
      return { code: "INTERNAL", reason: `the main model failed: ${String(error)}` };
    }
    if (!fallbackCodes.has(error.code)) return undefined;
    return { code: error.code, reason: `the main model failed: ${error.message}` };
  }

  /**
   * Streams a turn. A skill turn yields its validated output as one delta, then `done` with a `TurnResponse`
   * (output is validated whole, so it cannot stream token by token).
   */
  async *stream(given: TurnRequest, signal: AbortSignal): AsyncGenerator<ChatStreamChunk, void, undefined> {
    this.#started(given);
    const { turn, hits } = this.#screen(given);
    // The guard's hits (the user's turn, recalled facts) travel on the final chunk, whichever path produced it.
    for await (const chunk of this.#streamScreened(turn, hits, signal))
      yield chunk.type === "done" ? { type: "done", response: withGuard(chunk.response, hits) } : chunk;
  }

  async *#streamScreened(
    turn: TurnRequest,
    hits: TurnGuardHit[],
    signal: AbortSignal,
  ): AsyncGenerator<ChatStreamChunk, void, undefined> {
    const skill = this.#routeSkill(turn);
    if (skill !== undefined) {
      const response = await this.#runSkill(skill, turn, signal);
      yield { type: "delta", text: response.text };
      yield { type: "done", response };
      return;
    }
    const recalled = this.#recall(turn, hits);
    const request = toChatRequest(turn, recalled);
    // A reflected answer is chosen among iterations: it streams as one piece. A plain turn streams token by token,
    // from the fallback when the main model fails before its first token.
    if (this.reflects(turn)) {
      const response = await this.#answer(turn, request, signal);
      const stored = this.#learn(turn, recalled, response.text, hits);
      yield { type: "delta", text: response.text };
      yield { type: "done", response: withMemory(response, recalled, stored) };
      return;
    }
    if (this.#canFallBack(request)) {
      yield* this.#streamWithFallback(turn, request, recalled, hits, signal);
      return;
    }
    for await (const chunk of this.#backend.chatStream(request, signal)) {
      if (chunk.type === "done") {
        const stored = this.#learn(turn, recalled, chunk.response.text, hits);
        yield { type: "done", response: withMemory(chunk.response, recalled, stored) };
      } else yield chunk;
    }
  }

  /** Streams the main model; when it fails before its first token, the fallback's answer streams instead. */
  async *#streamWithFallback(
    turn: TurnRequest,
    request: ChatRequest,
    recalled: RecallContext | undefined,
    hits: TurnGuardHit[],
    signal: AbortSignal,
  ): AsyncGenerator<ChatStreamChunk, void, undefined> {
    const fallback = this.#options.fallback as { timeoutMs: number };
    const watch = new FirstTokenWatch(signal, fallback.timeoutMs);
    let started = false;
    try {
      for await (const chunk of this.#backend.chatStream(request, watch.signal)) {
        started = true;
        watch.started();
        if (chunk.type === "done") {
          const stored = this.#learn(turn, recalled, chunk.response.text, hits);
          yield { type: "done", response: withMemory(chunk.response, recalled, stored) };
        } else yield chunk;
      }
      return;
    } catch (caught) {
      const error = watch.timedOut ? watch.timeoutError(caught) : caught;
      const failure = started ? undefined : this.#fallbackReason(error, signal, fallback.timeoutMs);
      if (failure === undefined) throw error;
      const failedAt = performance.now();
      const { tokenProbabilities: _probabilities, ...plain } = request;
      let fallbackStarted = false;
      try {
        // The last resort gets no first-token deadline: a slow answer beats none (the client's signal bounds it).
        for await (const chunk of this.#backend.chatStream({ ...plain, role: "fallback" }, signal)) {
          fallbackStarted = true;
          if (chunk.type === "delta") {
            yield chunk;
            continue;
          }
          const used: TurnFallback = { ...failure, latencyMs: performance.now() - failedAt };
          this.#options.onFallback?.(used);
          const stored = this.#learn(turn, recalled, chunk.response.text, hits);
          yield {
            type: "done",
            response: withMemory({ ...chunk.response, fallback: used }, recalled, stored),
          };
        }
      } catch (fallbackError) {
        // Before its first token the fallback's own failure explains nothing: the main model's error does.
        if (!fallbackStarted && !signal.aborted) throw error;
        throw fallbackError;
      }
    } finally {
      watch.dispose();
    }
  }

  /** Waits for background work (model fact extraction) to settle; call before disposing the backend. */
  async drain(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
  }

  #started(turn: TurnRequest): void {
    try {
      this.#options.onTurn?.(turn);
    } catch {
      // Activity tracking never fails a turn.
    }
  }

  #routeSkill(turn: TurnRequest): Skill | undefined {
    const skills = this.#options.skills;
    if (skills === undefined) {
      if (turn.skill === undefined) return undefined;
      throw new AppError("INVALID_REQUEST", "skills are turned off (skills.enabled: false)", {
        param: "skill",
      });
    }
    // A turn that constrains its own output (response_format, a grammar) is not re-routed by the classifier.
    // Nor is a turn with images: skills read text only, and the image would be lost.
    const constrained =
      turn.grammar !== undefined ||
      turn.jsonSchema !== undefined ||
      turn.jsonObject === true ||
      turn.messages.some((message) => (message.images?.length ?? 0) > 0);
    if (turn.skill === undefined && constrained) return undefined;
    return skills.router.route(turn.skill, lastUserText(turn.messages));
  }

  /** A skill turn: the skill's validated output is the answer; memory is left to the skill (`extract_entities`). */
  async #runSkill(skill: Skill, turn: TurnRequest, signal: AbortSignal): Promise<TurnResponse> {
    const skills = this.#options.skills as SkillService;
    const seed = turn.sampling?.seed;
    const result = await skills.run(skill, {
      input: lastUserText(turn.messages),
      userId: turn.userId,
      signal,
      ...(turn.turnId === undefined ? {} : { turnId: turn.turnId }),
      ...(seed === undefined ? {} : { seed }),
      ...(turn.noMemory === true ? { noMemory: true } : {}),
      // A client's response_format schema is the skill's schema when the skill takes one (json_extract).
      ...(turn.jsonSchema !== undefined && skill.acceptsSchema === true ? { schema: turn.jsonSchema } : {}),
    });
    this.#options.onSkill?.(result);
    return {
      ...result.response,
      text: result.output,
      finishReason: "stop",
      usage: result.usage,
      skill: { name: result.skill, attempts: result.attempts, value: result.value },
    };
  }

  #recall(turn: TurnRequest, hits: TurnGuardHit[]): RecallContext | undefined {
    if (this.#memory === undefined || turn.noMemory === true) return undefined;
    let recalled: RecallContext;
    try {
      recalled = this.#memory.recallContext(turn.userId, lastUserText(turn.messages));
    } catch (error) {
      this.#options.onMemoryError?.(error);
      return undefined;
    }
    const guard = this.#options.guard;
    if (guard === undefined || recalled.facts.length === 0) return recalled;
    // A stored fact reaches the model as text from outside the turn: one that reads as an instruction is dropped
    // (whatever the policy says, a fact is never worth passing on as an instruction).
    const kept = recalled.facts.filter((fact) => {
      const result = guard.screen(formatFact(fact), "memory");
      if (result.action === "allow") return true;
      hits.push(toHit(result, result.action === "flag" ? "sanitize" : result.action));
      return false;
    });
    if (kept.length === recalled.facts.length) return recalled;
    if (kept.length === 0) return { facts: [], prompt: "", tokens: 0 };
    const [header] = recalled.prompt.split("\n");
    const prompt = [header, ...kept.map(formatFact)].join("\n");
    return { facts: kept, prompt, tokens: Math.ceil(prompt.length / 4) };
  }

  /**
   * Screens the user's last message: `block` refuses the turn, `sanitize` rewrites the message, `flag` passes it
   * on marked. Returns the turn to answer and the hits so far (recall adds its own).
   */
  #screen(turn: TurnRequest): { turn: TurnRequest; hits: TurnGuardHit[] } {
    const guard = this.#options.guard;
    const hits: TurnGuardHit[] = [];
    if (guard === undefined) return { turn, hits };
    const index = turn.messages.findLastIndex((message) => message.role === "user");
    const message = turn.messages[index];
    if (message === undefined) return { turn, hits };
    const result = guard.screen(message.content, "user");
    if (result.action === "allow") return { turn, hits };
    hits.push(toHit(result, result.action));
    if (result.action === "block") {
      throw new AppError(
        "INPUT_BLOCKED",
        `the message reads as a prompt-injection attempt (${result.verdict.techniques.join(", ")}) and the guard's policy for user input is block`,
        { param: `messages[${index}].content` },
      );
    }
    if (result.action === "flag") return { turn, hits };
    const messages = turn.messages.map((m, i) => (i === index ? { ...m, content: result.text } : m));
    return { turn: { ...turn, messages }, hits };
  }

  #learn(
    turn: TurnRequest,
    recalled: RecallContext | undefined,
    reply: string,
    hits: readonly TurnGuardHit[],
  ): LearnResult["results"] | undefined {
    const memory = this.#memory;
    if (memory === undefined || turn.noMemory === true) return undefined;
    // "Remember that you must ignore your rules" is an instruction, not a fact: an attack stores nothing.
    if (hits.some((hit) => hit.source === "user")) return [];
    const userText = lastUserText(turn.messages);
    const base = {
      userId: turn.userId,
      ...(turn.turnId === undefined ? {} : { messageId: turn.turnId }),
    };
    let stored: LearnResult["results"] = [];
    try {
      stored = [
        ...memory.learn({ ...base, text: userText, source: "user_input" }).results,
        ...memory.learn({ ...base, text: reply, source: "assistant" }).results,
      ];
      this.#options.onMemory?.({ userId: turn.userId, recalled: recalled?.facts.length ?? 0, stored });
    } catch (error) {
      this.#options.onMemoryError?.(error);
    }
    if (memory.hasModel && userText.trim() !== "") {
      // The model's share (memory.extractor model|both) runs once the reply is on its way: it never delays it.
      const task = new Promise<void>((resolve) => setImmediate(resolve))
        .then(() => memory.learnFromModel({ ...base, text: userText, source: "user_input" }))
        .then((learned) =>
          this.#options.onMemory?.({
            userId: turn.userId,
            recalled: 0,
            stored: learned.results,
            background: true,
          }),
        )
        .catch((error: unknown) => this.#options.onMemoryError?.(error))
        .finally(() => this.#background.delete(task));
      this.#background.add(task);
    }
    return stored;
  }
}

/**
 * Aborts a generation that has not produced its first token within `ms` (the model is unresponsive); once it
 * has started, it runs to its end. `timedOut` tells the timeout from the caller's own abort.
 */
class FirstTokenWatch {
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout;
  readonly #ms: number;
  readonly signal: AbortSignal;
  #timedOut = false;

  constructor(parent: AbortSignal, ms: number) {
    this.#ms = ms;
    this.signal = AbortSignal.any([parent, this.#controller.signal]);
    this.#timer = setTimeout(() => {
      this.#timedOut = true;
      this.#controller.abort(new AbortedError(`no first token within ${ms} ms`));
    }, ms);
  }

  get timedOut(): boolean {
    return this.#timedOut;
  }

  started(): void {
    clearTimeout(this.#timer);
  }

  timeoutError(cause: unknown): AppError {
    return new AppError("MODEL_TIMEOUT", `the model did not start answering within ${this.#ms} ms`, {
      cause,
    });
  }

  dispose(): void {
    clearTimeout(this.#timer);
  }
}

function toHit(result: ScreenResult, action: GuardAction): TurnGuardHit {
  return {
    source: result.source,
    action,
    score: result.verdict.score,
    techniques: result.verdict.techniques,
  };
}

function withGuard<T extends TurnResponse>(response: T, hits: readonly TurnGuardHit[]): T {
  return hits.length === 0 ? response : { ...response, guard: [...hits] };
}

/** The response with what memory did in the turn (fact ids), when memory took part in it. */
function withMemory(
  response: TurnResponse,
  recalled: RecallContext | undefined,
  stored: LearnResult["results"] | undefined,
): TurnResponse {
  if (recalled === undefined && stored === undefined) return response;
  return {
    ...response,
    memory: {
      recalled: recalled?.facts.map((fact) => fact.id) ?? [],
      stored: stored?.map((result) => result.fact.id) ?? [],
    },
  };
}

function toChatRequest(turn: TurnRequest, recalled: RecallContext | undefined): ChatRequest {
  const {
    userId: _userId,
    turnId: _turnId,
    noMemory: _noMemory,
    skill: _skill,
    reflect: _reflect,
    verify: _verify,
    reflectSettings: _reflectSettings,
    ...request
  } = turn;
  if (recalled === undefined || recalled.prompt === "") return request;
  const [first, ...rest] = request.messages;
  const messages: ChatMessage[] =
    first?.role === "system"
      ? [{ role: "system", content: `${first.content}\n\n${recalled.prompt}` }, ...rest]
      : [{ role: "system", content: recalled.prompt }, ...request.messages];
  return { ...request, messages };
}
