import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { ModelAccess, ModelPool } from "../inference/index.js";
import { AppError, createSilentLogger, hashFile, isAppError, type Logger } from "../shared/index.js";
import type { AdapterArchive, AdapterRecord, ArchivedAdapter } from "./adapter-archive.js";
import { regressionPrompts, replayPrompts } from "./anchor-prompts.js";
import { buildTrainingSet, splitExamples, type TrainingExample } from "./dataset.js";
import type { FeedbackStore } from "./feedback-store.js";
import {
  decideGate,
  type GateFigures,
  type GateThresholds,
  type GateVerdict,
  type SetFigures,
} from "./gate.js";
import type { ChatTurn } from "./feedback-store.js";
import { answerPositions, encodeExample, generateGreedy, type EncodedExample } from "./head-features.js";
import {
  loadTrainerState,
  outputHeadShape,
  readLoraAdapter,
  readOutputHead,
  saveTrainerState,
  serializeTrainerState,
  writeLoraAdapter,
} from "./lora-file.js";
import {
  scoreHead,
  trainLoraHeadSteps,
  type HeadPosition,
  type LoraHead,
  type OutputHead,
  type TrainResult,
} from "./lora-head.js";

export interface LearningSettings {
  /** Whose feedback is learnt from: one user's adapter never sees another's data. */
  userId: string;
  /** New feedback rows since the last run below which a scheduled run is skipped. */
  minNewFeedback: number;
  /** Training examples (after dedupe and the guard) below which a run is skipped. */
  minExamples: number;
  heldOutFraction: number;
  rank: number;
  alpha: number;
  learningRate: number;
  steps: number;
  batchSize: number;
  weightDecay: number;
  /** How much keeping the bare model's replay distributions counts against learning the feedback. */
  anchorWeight: number;
  /** A run stops training at this wall-clock time and evaluates what it has. */
  timeBudgetMs: number;
  /** Training refuses to start when its cached logits would need more than this. */
  memoryBudgetBytes: number;
  /** Tokens the gate lets an answer run to. */
  maxAnswerTokens: number;
  gate: GateThresholds;
  /** Archived adapters older than this are removed (never the promoted one and the one before it). */
  keepDays: number;
}

/** Why the learning loop did what it did, for the CLI, the API, metrics and the notification. */
export interface TrainingReport {
  outcome: "promoted" | "refused" | "skipped";
  reason?: string;
  adapterId?: string;
  /** The adapter in use before the run (none: the bare model). */
  previous?: string;
  examples: number;
  heldOut: number;
  /** Examples left out because they do not fit the model's context or teach more than 512 tokens. */
  tooLong?: number;
  trainPositions: number;
  steps: number;
  stopped?: string;
  resumedFrom?: number;
  firstLoss?: number;
  lastLoss?: number;
  stepMs?: number;
  trainSeconds?: number;
  peakRssMb?: number;
  current?: GateFigures;
  candidate?: GateFigures;
  /** The bare model on the regression set: what regressions are measured from. */
  bare?: SetFigures;
  verdict?: GateVerdict;
}

export interface LearningStatus {
  active: string | undefined;
  previous: string | undefined;
  lastFeedbackId: number;
  /** The last run; `failed` with its error code and message as the reason. */
  lastRun:
    | { at: number; outcome: TrainingReport["outcome"] | "failed"; reason?: string; adapterId?: string }
    | undefined;
  running: boolean;
}

/** What a run reports as it goes (the CLI's progress bar). */
export type LearningProgress =
  | { phase: "features"; done: number; total: number }
  | { phase: "training"; step: number; steps: number; loss: number }
  | { phase: "evaluating" };

export interface LearningEvents {
  onReport?: (report: TrainingReport) => void;
  onPromote?: (record: {
    id: string | undefined;
    previous: string | undefined;
    by: "gate" | "manual" | "rollback";
  }) => void;
  onStep?: (stepSeconds: number) => void;
  /** A run that failed (it is recorded as the last run, with its code). */
  onFailure?: (error: unknown) => void;
}

export interface LearningServiceOptions {
  pool: Pick<ModelPool, "useModel" | "setAdapter" | "adapter" | "detailedStatus" | "status">;
  feedback: FeedbackStore;
  archive: AdapterArchive;
  /** True when a text reads as an injection attack: such feedback teaches nothing. */
  screen: (text: string) => boolean;
  /** Run state, checkpoints and the anchor sets. */
  dir: string;
  settings: LearningSettings;
  events?: LearningEvents;
  logger?: Logger;
  now?: () => number;
}

interface StoredState {
  active?: string;
  previous?: string;
  lastFeedbackId: number;
  lastRun?: LearningStatus["lastRun"];
}

interface AnchorSet {
  model: string;
  prompts: { messages: ChatTurn[]; answer: string }[];
}

/**
 * The learning loop: builds a training set from one user's feedback, trains a LoRA on the main model's output head
 * on the CPU, scores it against the adapter in use on a held-out slice of the feedback and a fixed regression set,
 * and promotes it (hot, through the model pool) only when the gate says it is better. Every adapter is archived
 * signed; a promoted one is restored from the archive only when its signature verifies.
 */
export class LearningService {
  readonly #options: LearningServiceOptions;
  readonly #logger: Logger;
  readonly #now: () => number;
  #state: StoredState = { lastFeedbackId: 0 };
  #running: Promise<TrainingReport> | undefined;
  readonly #closing = new AbortController();
  /** Promotion, rollback and the end of a run change the adapter in use one at a time. */
  #changes: Promise<unknown> = Promise.resolve();
  #modelHash: { key: string; sha: string } | undefined;

  private constructor(options: LearningServiceOptions) {
    this.#options = options;
    this.#logger = options.logger ?? createSilentLogger();
    this.#now = options.now ?? Date.now;
  }

  /**
   * Opens the loop's state and applies the promoted adapter, if any, after verifying it; an adapter that does not
   * verify is not used (the model runs bare) and the reason is logged at warn.
   */
  static async open(options: LearningServiceOptions): Promise<LearningService> {
    const service = new LearningService(options);
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    service.#state = await readState(service.#stateFile);
    const active = service.#state.active;
    if (active !== undefined) {
      try {
        const file = await service.#verifiedFor(active);
        await options.pool.setAdapter("main", { file });
      } catch (error) {
        // The status says what runs: the model runs bare, the refused adapter is the one before.
        service.#logger.warn({ adapter: active, err: error }, "the promoted LoRA adapter is not used");
        delete service.#state.active;
        service.#state.previous = active;
        await service.#save();
      }
    }
    return service;
  }

  /**
   * The verified file of an archived adapter made for the main model as it is now: signatures and sha256 checked
   * by the archive, and its record's base model compared with the model file (`LORA_UNSUPPORTED` when it was made
   * for another model: llama.cpp would refuse it, or apply it to weights it was not trained on).
   */
  async #verifiedFor(id: string): Promise<string> {
    const file = await this.#options.archive.restore(id);
    const record = await this.#options.archive.get(id);
    const model = this.#mainModelFile();
    const sha = await this.#modelSha256(model);
    if (record?.baseModelSha256 !== sha) {
      throw new AppError(
        "LORA_UNSUPPORTED",
        `adapter ${id} was made for ${record?.baseModel ?? "another model"}, not for ${path.basename(model)}`,
        { param: "id" },
      );
    }
    return file;
  }

  #mainModelFile(): string {
    const main = this.#options.pool.status().find((role) => role.role === "main");
    if (main === undefined)
      throw new AppError("MODEL_NOT_FOUND", "no main model is configured (models.main)");
    return main.file;
  }

  /** The model file's sha256, computed once per file, size and modification time. */
  async #modelSha256(file: string): Promise<string> {
    const { size, mtimeMs } = await stat(file);
    const key = `${file}:${size}:${mtimeMs}`;
    if (this.#modelHash?.key !== key) this.#modelHash = { key, sha: await hashFile(file) };
    return this.#modelHash.sha;
  }

  get #stateFile(): string {
    return path.join(this.#options.dir, "state.json");
  }

  status(): LearningStatus {
    return {
      active: this.#state.active,
      previous: this.#state.previous,
      lastFeedbackId: this.#state.lastFeedbackId,
      lastRun: this.#state.lastRun,
      running: this.#running !== undefined,
    };
  }

  /** The archive, newest first, with which one is in use. */
  async list(): Promise<(ArchivedAdapter & { active: boolean })[]> {
    return (await this.#options.archive.list()).map((entry) => ({
      ...entry,
      active: entry.id === this.#state.active,
    }));
  }

  /**
   * One run: skipped (with the reason) when there is too little new feedback, too few examples or the machine is
   * busy, unless `force`; else trains, gates and promotes or refuses. One run at a time (`LEARNING_BUSY`).
   */
  train(options: {
    force?: boolean;
    signal: AbortSignal;
    onProgress?: (progress: LearningProgress) => void;
  }): Promise<TrainingReport> {
    if (this.#running !== undefined) {
      return Promise.reject(new AppError("LEARNING_BUSY", "a LoRA training run is already going on"));
    }
    if (this.#closing.signal.aborted) {
      return Promise.reject(new AppError("INFERENCE_FAILED", "the learning loop is shutting down"));
    }
    const signal = AbortSignal.any([options.signal, this.#closing.signal]);
    const run = this.#train({ ...options, signal }).finally(() => (this.#running = undefined));
    this.#running = run;
    return run;
  }

  /** Stops a run in progress (it fails as cancelled) and waits for it. */
  async close(): Promise<void> {
    this.#closing.abort();
    await this.#running?.catch(() => undefined);
  }

  /**
   * Puts an archived adapter in use (verified, and made for this model), or none with `undefined`. Refused with
   * `LEARNING_BUSY` while a run goes on: the run's own verdict decides then.
   */
  promote(id: string | undefined, by: "manual" | "rollback" = "manual"): Promise<LearningStatus> {
    if (this.#running !== undefined)
      return Promise.reject(
        new AppError("LEARNING_BUSY", "a LoRA training run is going on; promote after it"),
      );
    return this.#serially(async () => {
      await this.#apply(id, id === undefined ? undefined : await this.#verifiedFor(id), by);
      return this.status();
    });
  }

  /** Goes back to the adapter in use before the current one (or to none); a second rollback goes forward again. */
  rollback(): Promise<LearningStatus> {
    if (this.#running !== undefined)
      return Promise.reject(
        new AppError("LEARNING_BUSY", "a LoRA training run is going on; roll back after it"),
      );
    return this.#serially(async () => {
      if (this.#state.active === undefined && this.#state.previous === undefined) {
        throw new AppError(
          "INVALID_REQUEST",
          "no adapter is in use and none was before: nothing to roll back",
        );
      }
      const target = this.#state.previous;
      await this.#apply(
        target,
        target === undefined ? undefined : await this.#verifiedFor(target),
        "rollback",
      );
      return this.status();
    });
  }

  #serially<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#changes.then(work, work);
    this.#changes = next.catch(() => undefined);
    return next;
  }

  /**
   * Records the change first (the archive's statuses, then the state file), and only then switches the pool, so a
   * failure before the switch leaves the old adapter in use and its state saying so; a switch that fails is undone.
   */
  async #apply(
    id: string | undefined,
    file: string | undefined,
    by: "gate" | "manual" | "rollback",
  ): Promise<void> {
    const before = { ...this.#state };
    const previous = this.#state.active;
    if (id === previous) return;
    if (id !== undefined) await this.#options.archive.annotate(id, { status: "promoted" });
    if (previous !== undefined) {
      await this.#options.archive.annotate(previous, { status: "retired" }).catch(() => undefined);
    }
    this.#state.previous = previous;
    if (id === undefined) delete this.#state.active;
    else this.#state.active = id;
    await this.#save();
    try {
      await this.#options.pool.setAdapter("main", file === undefined ? undefined : { file });
    } catch (error) {
      this.#state = before;
      await this.#save();
      throw error;
    }
    this.#logger.info({ adapter: id ?? null, previous: previous ?? null, by }, "LoRA adapter in use");
    this.#options.events?.onPromote?.({ id, previous, by });
  }

  async #train(options: {
    force?: boolean;
    signal: AbortSignal;
    onProgress?: (progress: LearningProgress) => void;
  }): Promise<TrainingReport> {
    try {
      return await this.#trainOnce(options);
    } catch (error) {
      // A failed run is a recorded run: the status says why, the metrics and the notification see it.
      const code = isAppError(error) ? error.code : "INTERNAL";
      const message = error instanceof Error ? error.message : String(error);
      this.#state.lastRun = { at: this.#now(), outcome: "failed", reason: `${code}: ${message}` };
      await this.#save().catch(() => undefined);
      this.#logger.warn({ err: error }, "LoRA training failed");
      this.#options.events?.onFailure?.(error);
      throw error;
    }
  }

  async #trainOnce(options: {
    force?: boolean;
    signal: AbortSignal;
    onProgress?: (progress: LearningProgress) => void;
  }): Promise<TrainingReport> {
    const { settings, feedback, archive, pool } = this.#options;
    const { signal } = options;
    // Read before the run: ratings given while it goes on count for the next one.
    const newestId = feedback.lastId();
    const fresh = feedback.count(this.#state.lastFeedbackId, { userId: settings.userId });
    const skip = async (reason: string, examples = 0): Promise<TrainingReport> => {
      this.#state.lastRun = { at: this.#now(), outcome: "skipped", reason };
      await this.#save();
      const report: TrainingReport = {
        outcome: "skipped",
        reason,
        examples,
        heldOut: 0,
        trainPositions: 0,
        steps: 0,
      };
      this.#logger.info({ reason }, "LoRA training skipped");
      this.#options.events?.onReport?.(report);
      return report;
    };
    if (!options.force && fresh < settings.minNewFeedback) {
      return skip(
        `${fresh} new feedback since the last run; learning.minNewFeedback is ${settings.minNewFeedback}`,
      );
    }
    if (!options.force) {
      const busy = await this.#busy();
      if (busy !== undefined) return skip(busy);
    }
    const all = feedback.list(settings.userId, { limit: 100_000 });
    const { examples } = buildTrainingSet(all, { userId: settings.userId, screen: this.#options.screen });
    if (examples.length < settings.minExamples) {
      return skip(
        `${examples.length} training examples; learning.minExamples is ${settings.minExamples}`,
        examples.length,
      );
    }
    if (!archive.canSign) {
      throw new AppError(
        "SIGNING_KEY_MISSING",
        "LoRA adapters are archived signed and there is no signing key: run `sarai keys init` " +
          "(with SARAI_SIGNING_PASSPHRASE set if the key has a passphrase)",
      );
    }
    const modelFile = this.#mainModelFile();
    const headInfo = await outputHeadShape(modelFile);
    if (headInfo.bytes > settings.memoryBudgetBytes) {
      throw new AppError(
        "MODEL_TOO_LARGE",
        `the output head of ${path.basename(modelFile)} takes ${Math.ceil(headInfo.bytes / 2 ** 20)} MiB as floats; ` +
          `learning.memoryBudgetMb allows ${Math.floor(settings.memoryBudgetBytes / 2 ** 20)} MiB`,
        { param: "learning.memoryBudgetMb" },
      );
    }
    const modelSha = await this.#modelSha256(modelFile);
    const split = splitExamples(examples, { heldOutFraction: settings.heldOutFraction });
    const started = this.#now();
    let peakRss = process.memoryUsage().rss;
    const sampleRss = () => (peakRss = Math.max(peakRss, process.memoryUsage().rss));
    let tooLong = 0;

    // Phase 1, with the model: the states before the head for every answer token. The model is lent only for
    // this and for the evaluation below, never while the adapter trains.
    const features = await pool.useModel("main", signal, async (access) => {
      const anchors = await this.#anchors(access, signal);
      // A token more than the two ends: node-llama-cpp refuses an input as long as the context, and may add one.
      const fits = (example: EncodedExample) =>
        example.prompt.length + example.answer.length + 1 < access.embeddingContextSize;
      const positionsOf = async <T extends { messages: ChatTurn[]; answer: string }>(
        items: readonly T[],
        progress?: { done: number; total: number },
      ) => {
        const result: (T & { positions: HeadPosition[] })[] = [];
        for (const item of items) {
          const encoded = encodeExample(access, item.messages, item.answer);
          if (encoded.answer.length > maxAnswerTrainTokens || !fits(encoded)) {
            tooLong += 1;
            continue;
          }
          result.push({ ...item, positions: await answerPositions(access, encoded, signal) });
          if (progress !== undefined) {
            progress.done += 1;
            options.onProgress?.({ phase: "features", ...progress });
          }
          sampleRss();
        }
        return result;
      };
      const progress = { done: 0, total: split.train.length + anchors.replay.prompts.length };
      const trainItems = await positionsOf(split.train, progress);
      const replayItems = await positionsOf(anchors.replay.prompts, progress);
      return {
        architecture: architectureOf(access),
        trainItems,
        replayItems,
        heldOutItems: await positionsOf(split.heldOut),
        regressionItems: await positionsOf(anchors.regression.prompts),
      };
    });
    const { heldOutItems, regressionItems } = features;
    if (features.trainItems.length === 0 || heldOutItems.length === 0) {
      return skip(
        `no training or no held-out example fits the model's context (${tooLong} too long)`,
        examples.length,
      );
    }
    const taught = features.trainItems.flatMap((item) => item.positions);
    const anchorsKept = fitAnchors(
      features.replayItems.flatMap((item) =>
        item.positions.map((position) => ({ ...position, anchor: true })),
      ),
      Math.floor((settings.memoryBudgetBytes - headInfo.bytes) / (headInfo.nOut * 4)) - taught.length,
    );
    if (anchorsKept === undefined) {
      throw new AppError(
        "MODEL_TOO_LARGE",
        `training needs about ${Math.ceil((taught.length * headInfo.nOut * 4 + headInfo.bytes) / 2 ** 20)} MiB for ` +
          `${taught.length} answer tokens; learning.memoryBudgetMb allows ${Math.floor(settings.memoryBudgetBytes / 2 ** 20)} MiB`,
        { param: "learning.memoryBudgetMb" },
      );
    }
    const trainPositions = [...taught, ...anchorsKept];

    // Phase 2, without the model: the adapter trains in slices; chat and embeddings go on meanwhile.
    const head = await readOutputHead(modelFile);
    sampleRss();
    const checkpointFile = path.join(this.#options.dir, "checkpoint.json");
    const resume = await loadTrainerState(checkpointFile);
    let pendingCheckpoint: Promise<void> = Promise.resolve();
    let lastStep = this.#now();
    const run = trainLoraHeadSteps(head, trainPositions, {
      rank: settings.rank,
      alpha: settings.alpha,
      learningRate: settings.learningRate,
      steps: settings.steps,
      batchSize: settings.batchSize,
      weightDecay: settings.weightDecay,
      anchorWeight: settings.anchorWeight,
      // The model's hash in the seed: a checkpoint of another model is never resumed.
      seed: `${settings.userId}:${examples.length}:${modelSha}`,
      timeBudgetMs: settings.timeBudgetMs,
      resume,
      checkpointEvery: 50,
      onCheckpoint: (state) => {
        // Serialised now (a snapshot), written in order.
        const text = serializeTrainerState(state);
        pendingCheckpoint = pendingCheckpoint
          .then(() => saveTrainerState(checkpointFile, text))
          .catch((error: unknown) =>
            this.#logger.warn({ err: error }, "a training checkpoint was not written"),
          );
      },
      onStep: (progress) => {
        const at = this.#now();
        this.#options.events?.onStep?.((at - lastStep) / 1000);
        lastStep = at;
        if (progress.step % 10 === 0) {
          sampleRss();
          options.onProgress?.({
            phase: "training",
            step: progress.step,
            steps: progress.steps,
            loss: progress.loss,
          });
        }
        return !signal.aborted;
      },
    });
    // Steps run in slices of ~25 ms, and the event loop gets a turn between slices.
    let trained: TrainResult;
    for (let sliceStart = performance.now(); ;) {
      const next = run.next();
      if (next.done === true) {
        trained = next.value;
        break;
      }
      if (performance.now() - sliceStart >= 25) {
        await new Promise((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
    }
    await pendingCheckpoint;
    if (trained.stopped === "cancelled")
      throw new AppError("INFERENCE_FAILED", "the training run was cancelled");
    options.onProgress?.({ phase: "evaluating" });

    // Phase 3, with the model: the gate's figures for the adapter in use and the candidate.
    // A new name per run: llama.cpp keeps an adapter loaded per path, so a reused name would evaluate the last one.
    const candidateFile = path.join(this.#options.dir, `candidate-${this.#now()}-${process.pid}.gguf`);
    try {
      await writeLoraAdapter(candidateFile, trained.lora, {
        architecture: features.architecture,
        name: "sarai-lora",
      });
      const active = this.#state.active;
      const currentFile =
        active === undefined ? undefined : await this.#verifiedFor(active).catch(() => undefined);
      const currentLora = currentFile === undefined ? undefined : await readLoraAdapter(currentFile);
      const gate = await pool.useModel("main", signal, async (access) => {
        const figures = async (
          file: string | undefined,
          lora: LoraHead | undefined,
        ): Promise<GateFigures> => ({
          heldOut: await this.#setFigures(access, head, file, lora, heldOutItems, signal),
          regression: await this.#setFigures(access, head, file, lora, regressionItems, signal),
        });
        const current = await figures(currentFile, currentLora);
        const candidate = await figures(candidateFile, trained.lora);
        const bare =
          currentFile === undefined
            ? current.regression
            : await this.#setFigures(access, head, undefined, undefined, regressionItems, signal);
        return { current, candidate, bare };
      });
      sampleRss();
      const { current, candidate, bare } = gate;
      const verdict = decideGate(current, candidate, settings.gate, bare);
      const record = await archive.store(candidateFile, {
        baseModel: path.basename(modelFile),
        baseModelSha256: modelSha,
        rank: settings.rank,
        alpha: settings.alpha,
        examples: examples.length,
        metrics: {
          heldOutNllBefore: current.heldOut.nll,
          heldOutNllAfter: candidate.heldOut.nll,
          heldOutExactBefore: current.heldOut.exact,
          heldOutExactAfter: candidate.heldOut.exact,
          regressionNllBefore: current.regression.nll,
          regressionNllAfter: candidate.regression.nll,
          steps: trained.steps,
        },
        status: verdict.promote ? "candidate" : "refused",
      });
      await rm(checkpointFile, { force: true });
      const finished: TrainingReport = {
        outcome: verdict.promote ? "promoted" : "refused",
        adapterId: record.id,
        ...(active === undefined ? {} : { previous: active }),
        examples: examples.length,
        heldOut: heldOutItems.length,
        ...(tooLong === 0 ? {} : { tooLong }),
        trainPositions: trainPositions.length,
        steps: trained.steps,
        ...(trained.stopped === undefined ? {} : { stopped: trained.stopped }),
        ...(trained.resumedFrom === undefined ? {} : { resumedFrom: trained.resumedFrom }),
        firstLoss: trained.firstLoss,
        lastLoss: trained.lastLoss,
        stepMs: trained.elapsedMs / Math.max(1, trained.steps - (trained.resumedFrom ?? 0)),
        current,
        candidate,
        bare,
        verdict,
      };
      if (verdict.promote) {
        await this.#serially(async () => this.#apply(record.id, await archive.restore(record.id), "gate"));
      }
      finished.trainSeconds = (this.#now() - started) / 1000;
      finished.peakRssMb = Math.round(peakRss / 2 ** 20);
      this.#state.lastFeedbackId = Math.max(this.#state.lastFeedbackId, newestId);
      this.#state.lastRun = { at: this.#now(), outcome: finished.outcome, adapterId: record.id };
      await this.#save();
      await this.#rotate();
      this.#logger.info(
        { outcome: finished.outcome, adapter: record.id, examples: finished.examples, steps: finished.steps },
        "LoRA training finished",
      );
      this.#options.events?.onReport?.(finished);
      return finished;
    } finally {
      await rm(candidateFile, { force: true });
    }
  }

  async #setFigures(
    access: ModelAccess,
    head: OutputHead,
    file: string | undefined,
    lora: LoraHead | undefined,
    items: readonly { messages: ChatTurn[]; answer: string; positions: HeadPosition[] }[],
    signal: AbortSignal,
  ): Promise<SetFigures> {
    const score = scoreHead(
      head,
      lora,
      items.flatMap((item) => item.positions),
    );
    const answers = await generateGreedy(
      access,
      file,
      items.map((item) => item.messages),
      {
        maxTokens: this.#options.settings.maxAnswerTokens,
        signal,
      },
    );
    const exact = answers.filter((answer, index) => same(answer, items[index]?.answer ?? "")).length;
    return {
      nll: score.nll,
      perplexity: score.perplexity,
      exact,
      total: items.length,
      top1: score.top1,
      tokens: score.tokens,
    };
  }

  /** The replay and regression sets: the bare model's greedy answers to fixed prompts, made once per model file. */
  async #anchors(
    access: ModelAccess,
    signal: AbortSignal,
  ): Promise<{ replay: AnchorSet; regression: AnchorSet }> {
    const model = `${path.basename(access.file)}:${await this.#modelSha256(access.file)}`;
    const file = path.join(this.#options.dir, "anchors.json");
    try {
      const stored = JSON.parse(await readFile(file, "utf8")) as { replay: AnchorSet; regression: AnchorSet };
      if (stored.replay.model === model && stored.regression.model === model) return stored;
    } catch {
      // None yet, or for another model: made below.
    }
    const make = async (prompts: readonly string[]): Promise<AnchorSet> => {
      const messages = prompts.map((content): ChatTurn[] => [{ role: "user", content }]);
      const answers = await generateGreedy(access, undefined, messages, {
        maxTokens: this.#options.settings.maxAnswerTokens,
        signal,
      });
      return {
        model,
        prompts: messages.map((turns, index) => ({ messages: turns, answer: answers[index] ?? "" })),
      };
    };
    const anchors = { replay: await make(replayPrompts), regression: await make(regressionPrompts) };
    await writeAtomically(file, JSON.stringify(anchors));
    return anchors;
  }

  async #busy(): Promise<string | undefined> {
    const status = await this.#options.pool.detailedStatus();
    const active = status.reduce((sum, role) => sum + (role.activeSequences ?? 0) + (role.waiting ?? 0), 0);
    if (active > 0) return `the machine is busy: ${active} requests are being answered`;
    const [load] = os.loadavg();
    const cores = os.availableParallelism();
    if ((load ?? 0) > cores)
      return `the machine is busy: load average ${(load ?? 0).toFixed(2)} over ${cores} cores`;
    return undefined;
  }

  async #rotate(): Promise<void> {
    const keep = new Set(
      [this.#state.active, this.#state.previous].filter((id): id is string => id !== undefined),
    );
    const removed = await this.#options.archive.rotate({ keepDays: this.#options.settings.keepDays, keep });
    if (removed.length > 0) this.#logger.info({ removed }, "old LoRA adapters removed");
  }

  async #save(): Promise<void> {
    await writeAtomically(this.#stateFile, JSON.stringify(this.#state));
  }
}

export type { AdapterRecord, TrainingExample };

/** Answer tokens one example may teach: the state for each costs an evaluation of the whole prefix. */
const maxAnswerTrainTokens = 512;

/**
 * The replay anchors that fit `room` cached positions, spread evenly over the set; `undefined` when not even the
 * taught positions fit (room < 0).
 */
function fitAnchors(anchors: HeadPosition[], room: number): HeadPosition[] | undefined {
  if (room < 0) return undefined;
  if (anchors.length <= room) return anchors;
  const step = anchors.length / Math.max(1, room);
  return Array.from({ length: room }, (_, index) => anchors[Math.floor(index * step)] as HeadPosition);
}

function same(a: string, b: string): boolean {
  return a.trim() === b.trim();
}

function architectureOf(access: ModelAccess): string {
  const architecture = access.model.fileInfo.metadata.general.architecture;
  return typeof architecture === "string" ? architecture : "llama";
}

async function readState(file: string): Promise<StoredState> {
  try {
    const parsed = JSON.parse(await readFile(file, "utf8")) as StoredState;
    return { ...parsed, lastFeedbackId: Number.isInteger(parsed.lastFeedbackId) ? parsed.lastFeedbackId : 0 };
  } catch {
    return { lastFeedbackId: 0 };
  }
}

let temporaries = 0;

async function writeAtomically(file: string, text: string): Promise<void> {
  const temporary = `${file}.${process.pid}.${(temporaries += 1)}.tmp`;
  await writeFile(temporary, text, { mode: 0o600 });
  await rename(temporary, file);
}
