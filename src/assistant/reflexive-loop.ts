import {
  OutputInvalidError,
  type ChatMessage,
  type ChatRequest,
  type ChatResponse,
  type LlmBackend,
} from "../inference/index.js";
import { AbortedError, AppError, toAppError } from "../shared/index.js";
import { lastUserIndex, lastUserText } from "./messages.js";
import { renderTemplate, templateWarnings, type ReflectionTemplates } from "./reflection-templates.js";
import type { Verdict, Verifier } from "./verifiers.js";

/** The hard cap on iterations (the draft included), whatever the config says. */
export const maxReflectIterations = 3;

export interface ReflectSettings {
  /** Iterations including the draft, 1–3 (higher values are capped at 3). */
  maxIterations: number;
  /** Stop as soon as an iteration's confidence reaches this, 0–1. */
  confidenceThreshold: number;
  /** Longest one iteration may take, in ms. */
  iterationTimeoutMs: number;
  /** Longest all iterations may take, in ms; the best answer so far is returned then. */
  deadlineMs: number;
  /** Grade answers with the model under a JSON-schema grammar when the cheap signals do not decide. */
  selfAssessment: boolean;
}

/** What an iteration's confidence was computed from. */
export interface IterationSignals {
  /** Verifier verdicts: the request's JSON schema, `verify` checks. */
  verifiers?: Verdict[];
  /** Geometric mean of the model's probability of each answer token, 0–1 (local models). */
  tokenProbability?: number;
  /** The model's grade of its own answer, 0–1 (score / 10), and the problems it listed. */
  selfAssessment?: { score: number; issues: string[] };
}

export interface ReflectionIteration {
  /** 1 is the draft; 2..3 are revisions. */
  n: number;
  response: string;
  /** 0–1, or null when no signal was available. */
  confidence: number | null;
  signals: IterationSignals;
  /** A revision that scored higher than every iteration before it (and so replaced the answer). */
  corrected: boolean;
  latencyMs: number;
  /** Why a revision failed (timeout, model error); the best earlier answer stands. */
  error?: string;
}

export type ReflectionStop = "confident" | "max_iterations" | "deadline" | "no_signal" | "failed";

export interface ReflectionReport {
  iterations: ReflectionIteration[];
  /** The iteration whose answer is returned. */
  chosen: number;
  /** True when the returned answer is a revision (the draft was improved on). */
  autoCorrected: boolean;
  stoppedBy: ReflectionStop;
  totalLatencyMs: number;
  /** SHA-256 of the reflection templates this turn used. */
  templates: { critique: string; assess: string };
  /** Templates refused (bad signature: the built-in one was used) or used unverified, one line each. */
  templateWarnings?: string[];
}

export interface ReflectionOutcome {
  response: ChatResponse;
  report: ReflectionReport;
}

export interface ReflexiveLoopOptions {
  backend: LlmBackend;
  templates: ReflectionTemplates;
  settings: ReflectSettings;
}

/** Signal weights: a verifier means the most, then the model's token probabilities, then its self-grade. */
const weights = { verifiers: 0.5, tokenProbability: 0.3, selfAssessment: 0.2 } as const;
/** A failed verifier caps the confidence here: an answer that fails a check is never confident. */
const failedCheckCeiling = 0.5;

const assessmentSchema = {
  type: "object",
  properties: {
    // An enum, not minimum/maximum: the grammar enforces enums, so every grade is in range.
    score: { enum: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] },
    // Bounded so that a weak model's grade always ends within its token budget.
    issues: { type: "array", maxItems: 3, items: { type: "string", minLength: 1, maxLength: 80 } },
  },
  required: ["score", "issues"],
  additionalProperties: false,
} as const;

/**
 * Draft → reflect → correct, at most three iterations, only as long as a real signal says the answer is not
 * good enough: verifier results, the model's token probabilities and, when those do not decide, a
 * self-assessment under a JSON-schema grammar. Never answer length. Unaided self-correction can make answers
 * worse (Huang et al., 2023), so each iteration is scored and the best one is returned, not the last.
 *
 * The draft's failure is thrown (the turn pipeline then asks the fallback model); a revision's failure ends the
 * loop with the best answer so far.
 */
export class ReflexiveLoop {
  readonly #backend: LlmBackend;
  readonly #templates: ReflectionTemplates;
  readonly #warnings: readonly string[];
  readonly #settings: ReflectSettings;

  constructor(options: ReflexiveLoopOptions) {
    this.#backend = options.backend;
    this.#templates = options.templates;
    this.#warnings = templateWarnings(options.templates);
    this.#settings = options.settings;
  }

  get templates(): ReflectionTemplates {
    return this.#templates;
  }

  async run(
    request: ChatRequest,
    verifiers: readonly Verifier[],
    signal: AbortSignal,
    overrides: Partial<ReflectSettings> = {},
  ): Promise<ReflectionOutcome> {
    const settings = { ...this.#settings, ...overrides };
    const cap = Math.max(1, Math.min(maxReflectIterations, Math.floor(settings.maxIterations)));
    const started = performance.now();
    const deadline = started + settings.deadlineMs;
    const question = lastUserText(request.messages);
    const iterations: ReflectionIteration[] = [];
    let best:
      { iteration: ReflectionIteration; response: ChatResponse | undefined; error?: AppError } | undefined;
    let stoppedBy: ReflectionStop = "max_iterations";

    for (let n = 1; n <= cap; n++) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) {
        stoppedBy = "deadline";
        break;
      }
      const iterationStarted = performance.now();
      const budget = Math.min(settings.iterationTimeoutMs, remaining);
      const timeout = AbortSignal.timeout(budget);
      const iterationSignal = AbortSignal.any([signal, timeout]);
      const previous = best?.iteration;
      const messages =
        n === 1 || previous === undefined
          ? request.messages
          : this.#revisionMessages(request.messages, question, previous);

      let response: ChatResponse | undefined;
      let text: string;
      let schemaVerdict: Verdict | undefined;
      let schemaError: AppError | undefined;
      try {
        response = await this.#backend.chat(
          { ...request, messages, tokenProbabilities: true, sampling: revisionSampling(request, n) },
          iterationSignal,
        );
        text = response.text;
        if (request.jsonSchema !== undefined || request.jsonObject === true)
          schemaVerdict = { name: "json_schema", ok: true, issues: [] };
      } catch (error) {
        if (signal.aborted) throw error instanceof AbortedError ? error : new AbortedError();
        if (error instanceof OutputInvalidError) {
          text = error.output;
          schemaError = error;
          schemaVerdict = { name: "json_schema", ok: false, issues: [error.message] };
        } else {
          const failure = timeout.aborted
            ? new AppError("MODEL_TIMEOUT", `iteration ${n} took longer than ${Math.round(budget)} ms`, {
                cause: error,
              })
            : toAppError(error, "INFERENCE_FAILED");
          if (n === 1) throw failure;
          iterations.push({
            n,
            response: "",
            confidence: null,
            signals: {},
            corrected: false,
            latencyMs: performance.now() - iterationStarted,
            error: `${failure.code}: ${failure.message}`,
          });
          stoppedBy = timeout.aborted && budget < settings.iterationTimeoutMs ? "deadline" : "failed";
          break;
        }
      }

      const signals: IterationSignals = {};
      const verdicts: Verdict[] = schemaVerdict === undefined ? [] : [schemaVerdict];
      for (const verifier of verifiers) verdicts.push(await runVerifier(verifier, text, iterationSignal));
      if (verdicts.length > 0) signals.verifiers = verdicts;
      const tokens = response?.tokenConfidence;
      if (tokens !== undefined) signals.tokenProbability = tokens.geometricMean;
      let confidence = combine(signals);
      const checkFailed = verdicts.some((v) => !v.ok);
      // The cheap signals decide when they are confident or a check failed; otherwise ask the model itself.
      if (
        settings.selfAssessment &&
        !checkFailed &&
        (confidence === null || confidence < settings.confidenceThreshold) &&
        !iterationSignal.aborted
      ) {
        const assessment = await this.#assess(question, text, request, iterationSignal);
        if (assessment !== undefined) signals.selfAssessment = assessment;
        confidence = combine(signals);
      }

      const iteration: ReflectionIteration = {
        n,
        response: text,
        confidence,
        signals,
        corrected: false,
        latencyMs: performance.now() - iterationStarted,
      };
      iterations.push(iteration);
      // A valid answer always ranks above an invalid one (a schema request must not fail while an iteration
      // validated); among equals, the higher confidence wins and a tie keeps the earlier one.
      const rank = (valid: boolean, score: number | null) => (valid ? 2 : 0) + (score ?? -1) / 2;
      const better =
        best === undefined ||
        rank(response !== undefined, confidence) >
          rank(best.response !== undefined, best.iteration.confidence);
      if (better) {
        iteration.corrected = best !== undefined;
        best = { iteration, response, ...(schemaError === undefined ? {} : { error: schemaError }) };
      }
      if (confidence === null) {
        stoppedBy = "no_signal";
        break;
      }
      if (confidence >= settings.confidenceThreshold) {
        stoppedBy = "confident";
        break;
      }
    }

    if (best === undefined)
      throw new AppError("MODEL_TIMEOUT", "the reflection deadline passed before an answer");
    const report: ReflectionReport = {
      iterations,
      chosen: best.iteration.n,
      autoCorrected: best.iteration.n > 1,
      stoppedBy,
      totalLatencyMs: performance.now() - started,
      templates: { critique: this.#templates.critique.sha256, assess: this.#templates.assess.sha256 },
      ...(this.#warnings.length === 0 ? {} : { templateWarnings: [...this.#warnings] }),
    };
    // A schema request never succeeds with invalid JSON: when no iteration validated, the last error stands.
    if (best.response === undefined) {
      const error = best.error ?? new AppError("OUTPUT_INVALID", "no iteration produced a valid answer");
      throw new ReflectionFailedError(error, report);
    }
    return { response: best.response, report };
  }

  #revisionMessages(
    messages: readonly ChatMessage[],
    question: string,
    previous: ReflectionIteration,
  ): ChatMessage[] {
    const issues = [
      ...(previous.signals.verifiers ?? []).flatMap((v) => v.issues.map((issue) => `${v.name}: ${issue}`)),
      ...(previous.signals.selfAssessment?.issues ?? []),
    ];
    if (issues.length === 0) {
      issues.push(
        previous.signals.tokenProbability !== undefined
          ? `the answer was written with low certainty (token probability ${previous.signals.tokenProbability.toFixed(2)}); check every claim`
          : "the answer may be wrong or incomplete; check it",
      );
    }
    const content = renderTemplate(this.#templates.critique, {
      question,
      answer: previous.response,
      issues: issues.map((issue) => `- ${issue}`).join("\n"),
    });
    const last = lastUserIndex(messages);
    const images = last < 0 ? undefined : messages[last]?.images;
    return [
      ...messages.slice(0, last < 0 ? messages.length : last),
      { role: "user", content, ...(images === undefined ? {} : { images }) },
    ];
  }

  async #assess(
    question: string,
    answer: string,
    request: ChatRequest,
    signal: AbortSignal,
  ): Promise<{ score: number; issues: string[] } | undefined> {
    try {
      const response = await this.#backend.chat(
        {
          messages: [{ role: "user", content: renderTemplate(this.#templates.assess, { question, answer }) }],
          jsonSchema: assessmentSchema,
          sampling: { temperature: 0, maxTokens: 384 },
          ...(request.role === undefined ? {} : { role: request.role }),
        },
        signal,
      );
      const value = response.json as { score: number; issues: string[] };
      return { score: value.score / 10, issues: value.issues };
    } catch {
      // A model that cannot grade itself (invalid output, timeout) gives no signal; the other signals still count.
      return undefined;
    }
  }
}

/** The reflection spent its iterations without a valid answer; carries the report for the response details. */
export class ReflectionFailedError extends AppError {
  readonly report: ReflectionReport;

  constructor(error: AppError, report: ReflectionReport) {
    super(error.code, error.message, {
      cause: error,
      ...(error.param === undefined ? {} : { param: error.param }),
    });
    this.name = "ReflectionFailedError";
    this.report = report;
  }
}

/** A verifier that cannot run (a spawn failure, say) cannot vouch for the answer: a failed verdict saying why. */
async function runVerifier(verifier: Verifier, text: string, signal: AbortSignal): Promise<Verdict> {
  try {
    return await verifier.verify(text, signal);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      name: verifier.name,
      ok: false,
      issues: [`the ${verifier.name} check could not run: ${message}`],
    };
  }
}

/** Weighted mean of the signals present; a failed check caps it. Null when there is no signal at all. */
export function combine(signals: IterationSignals): number | null {
  let sum = 0;
  let weight = 0;
  const verdicts = signals.verifiers ?? [];
  if (verdicts.length > 0) {
    sum += weights.verifiers * (verdicts.filter((v) => v.ok).length / verdicts.length);
    weight += weights.verifiers;
  }
  if (signals.tokenProbability !== undefined) {
    sum += weights.tokenProbability * signals.tokenProbability;
    weight += weights.tokenProbability;
  }
  if (signals.selfAssessment !== undefined) {
    sum += weights.selfAssessment * signals.selfAssessment.score;
    weight += weights.selfAssessment;
  }
  if (weight === 0) return null;
  const confidence = sum / weight;
  return verdicts.some((v) => !v.ok) ? Math.min(confidence, failedCheckCeiling) : confidence;
}

/** A revision samples with the next seed, so that a seeded request stays reproducible and still changes. */
function revisionSampling(request: ChatRequest, n: number): ChatRequest["sampling"] {
  const sampling = request.sampling;
  if (n === 1 || sampling?.seed === undefined) return sampling;
  return { ...sampling, seed: (sampling.seed + n - 1) >>> 0 };
}
