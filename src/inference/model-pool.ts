import os from "node:os";
import {
  getLlama,
  GgufInsights,
  LlamaLogLevel,
  readGgufFileInfo,
  resolveChatWrapper,
  type ChatWrapper,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaEmbeddingContext,
  type LlamaModel,
} from "node-llama-cpp";
import { AbortedError, AppError, createSilentLogger, type Logger } from "../shared/index.js";
import { inspectModelFile, type ModelFileInfo } from "./model-file.js";
import { Semaphore } from "./semaphore.js";
import type { ModelRole } from "./types.js";

export interface RoleModelOptions {
  /** Absolute path of the GGUF file. */
  file: string;
  /** Context window for this role; clamped to the model's training context. */
  contextSize?: number | undefined;
  /** Parallel sequences in this role's context. */
  sequences?: number | undefined;
}

export interface ModelPoolOptions {
  roles: Partial<Record<ModelRole, RoleModelOptions>>;
  /** CPU threads for llama.cpp; 0 picks {@link resolveThreadCount}'s automatic value. */
  threads: number;
  /** Tokens evaluated per batch. */
  batchSize: number;
  /** Default context window in tokens. */
  contextSize: number;
  /** Default parallel sequences per context. */
  sequences: number;
  /** Requests that may wait for a sequence per role; more fail with `QUEUE_FULL`. Unbounded by default. */
  maxQueue?: number | undefined;
  /** Upper bound in bytes on the estimated RAM of all loaded models and contexts together. */
  ramBudgetBytes: number;
  logger?: Logger;
  /** A llama.cpp binding to share (tests, benchmarks); created lazily with `gpu: false` otherwise. */
  llama?: Llama;
}

/** What one role holds once it has been loaded. */
interface LoadedRole {
  file: string;
  model: LlamaModel;
  chatWrapper: ChatWrapper | undefined;
  context: LlamaContext;
  slots: Semaphore;
  freeSequences: LlamaContextSequence[];
  /** Created on the first embedding request; one request at a time uses it. */
  embedding?: Promise<LlamaEmbeddingContext>;
  embeddingSlots: Semaphore;
  estimatedBytes: number;
  loadSeconds: number;
}

/** One sequence lent to one generation; `release()` frees it for the next request at once. */
export interface SequenceLease {
  readonly role: ModelRole;
  readonly file: string;
  readonly model: LlamaModel;
  /** Resolved once per model: node-llama-cpp's resolution compares Jinja templates and costs ~1 s. */
  readonly chatWrapper: ChatWrapper | undefined;
  readonly sequence: LlamaContextSequence;
  /** Clears the sequence and returns it to the pool; the next waiter gets it. Idempotent. */
  release(): Promise<void>;
}

export interface RoleStatus {
  role: ModelRole;
  file: string;
  loaded: boolean;
  contextSize?: number;
  sequences?: number;
  activeSequences?: number;
  waiting?: number;
  estimatedMb?: number;
  loadSeconds?: number;
}

export interface MemoryEstimate {
  modelBytes: number;
  contextBytes: number;
  totalBytes: number;
  contextSize: number;
  info: ModelFileInfo;
}

const mib = 1024 * 1024;

/**
 * The thread count for llama.cpp: the configured one, or when it is 0, one less than the CPUs available
 * (at least 1, at most 8). llama.cpp's threads spin while they wait for each other, so a thread more than
 * there are idle cores costs a lot: on 2 busy cores, 62 tokens took 0.2 s with 1 thread, 5.7 s with 2 and
 * 66 s with node-llama-cpp's default of 4.
 */
export function resolveThreadCount(configured: number, cpus = os.availableParallelism()): number {
  if (configured > 0) return configured;
  return Math.max(1, Math.min(8, cpus - 1));
}

/**
 * The models SARAi runs, by role (`main`, `draft`, `fallback`). Loading is lazy and happens once per file
 * even when roles share a file; each role gets a context with several parallel sequences; every load is
 * checked against the RAM budget first, so an oversized model is refused instead of OOM-killing us.
 */
export class ModelPool {
  readonly #options: ModelPoolOptions;
  readonly #logger: Logger;
  #llama: Promise<Llama> | undefined;
  readonly #models = new Map<string, Promise<{ model: LlamaModel; loadSeconds: number }>>();
  #reservedBytes = 0;
  readonly #roles = new Map<ModelRole, Promise<LoadedRole>>();
  #disposed = false;
  readonly #threads: number;

  constructor(options: ModelPoolOptions) {
    this.#options = options;
    this.#threads = resolveThreadCount(options.threads);
    this.#logger = options.logger ?? createSilentLogger();
    if (options.llama !== undefined) this.#llama = Promise.resolve(options.llama);
  }

  /** The llama.cpp threads this pool uses. */
  get threads(): number {
    return this.#threads;
  }

  /** The roles that have a model configured. */
  get roles(): ModelRole[] {
    return (Object.keys(this.#options.roles) as ModelRole[]).filter(
      (r) => this.#options.roles[r] !== undefined,
    );
  }

  hasRole(role: ModelRole): boolean {
    return this.#options.roles[role] !== undefined;
  }

  getLlama(): Promise<Llama> {
    this.#llama ??= getLlama({
      gpu: false,
      build: "never",
      // Caps the threads of all contexts together, so parallel sequences do not oversubscribe the CPU.
      maxThreads: this.#threads,
      logLevel: LlamaLogLevel.error,
      logger: (level, message) => {
        if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal)
          this.#logger.warn({ llama: message.trim() });
      },
    });
    return this.#llama;
  }

  /**
   * Checks a file and estimates the RAM it needs with a context of the role's size: model weights plus
   * KV cache and compute buffers, from node-llama-cpp's GGUF insights.
   */
  async estimate(role: ModelRole): Promise<MemoryEstimate> {
    const roleOptions = this.#roleOptions(role);
    const info = await inspectModelFile(roleOptions.file);
    const llama = await this.getLlama();
    const insights = await GgufInsights.from(await readGgufFileInfo(roleOptions.file), llama);
    const contextSize = this.#contextSizeFor(roleOptions, info);
    const model = await insights.estimateModelResourceRequirementsV2({ gpuLayers: 0 });
    const context = await insights.estimateContextResourceRequirementsV2({
      contextSize,
      modelGpuLayers: 0,
      batchSize: Math.min(this.#options.batchSize, contextSize),
      sequences: roleOptions.sequences ?? this.#options.sequences,
    });
    return {
      modelBytes: model.cpuRam,
      contextBytes: context.cpuRam,
      totalBytes: model.cpuRam + context.cpuRam,
      contextSize,
      info,
    };
  }

  /** Loads the role's model and context if they are not loaded yet. */
  load(role: ModelRole): Promise<LoadedRole> {
    this.#assertNotDisposed();
    let loaded = this.#roles.get(role);
    if (loaded === undefined) {
      loaded = this.#loadRole(role);
      this.#roles.set(role, loaded);
      // A failed load must not stick: the next request tries again (the file may have been fixed).
      loaded.catch(() => this.#roles.delete(role));
    }
    return loaded;
  }

  /** Waits for a free sequence of the role (FIFO) and lends it; rejects with `AbortedError` on abort. */
  async acquire(role: ModelRole, signal: AbortSignal): Promise<SequenceLease> {
    let loaded = await abortable(this.load(role), signal);
    await loaded.slots.acquire(signal);
    // `unloadIdle` may have unloaded the role between the load and the slot: load it again.
    while (this.#roles.get(role) === undefined || (await this.#roles.get(role)) !== loaded) {
      loaded.slots.release();
      loaded = await abortable(this.load(role), signal);
      await loaded.slots.acquire(signal);
    }
    let sequence: LlamaContextSequence;
    try {
      // Sequences are kept and reused: node-llama-cpp reclaims a disposed one's slot only asynchronously.
      sequence = loaded.freeSequences.pop() ?? loaded.context.getSequence();
    } catch (error) {
      loaded.slots.release();
      throw new AppError("INFERENCE_FAILED", `no free sequence in the ${role} context`, { cause: error });
    }
    let released = false;
    return {
      role,
      file: loaded.file,
      model: loaded.model,
      chatWrapper: loaded.chatWrapper,
      sequence,
      release: async () => {
        if (released) return;
        released = true;
        try {
          // Each request starts from an empty sequence, so output never depends on the one before.
          await sequence.clearHistory();
          loaded.freeSequences.push(sequence);
        } catch (error) {
          this.#logger.warn({ role, err: error }, "dropping a sequence that could not be cleared");
          void sequence.dispose();
        } finally {
          loaded.slots.release();
        }
      },
    };
  }

  /**
   * Embeds each text with the role's model (llama.cpp's embedding mode, a context of its own). A text longer
   * than that context is a `CONTEXT_OVERFLOW` naming its index.
   */
  async embed(
    role: ModelRole,
    texts: readonly string[],
    signal: AbortSignal,
  ): Promise<{ vectors: number[][]; promptTokens: number }> {
    const loaded = await abortable(this.load(role), signal);
    const contextSize = Math.min(loaded.context.contextSize, 8192);
    loaded.embedding ??= loaded.model.createEmbeddingContext({ contextSize, threads: this.#threads });
    const context = await loaded.embedding;
    await loaded.embeddingSlots.acquire(signal);
    try {
      const vectors: number[][] = [];
      let promptTokens = 0;
      for (const [index, text] of texts.entries()) {
        if (signal.aborted) throw new AbortedError();
        const tokens = loaded.model.tokenize(text);
        if (tokens.length > contextSize) {
          throw new AppError(
            "CONTEXT_OVERFLOW",
            `input[${index}] has ${tokens.length} tokens; the embedding context holds ${contextSize}`,
            { param: `input[${index}]` },
          );
        }
        promptTokens += tokens.length;
        vectors.push([...(await context.getEmbeddingFor(tokens)).vector]);
      }
      return { vectors, promptTokens };
    } finally {
      loaded.embeddingSlots.release();
    }
  }

  status(): RoleStatus[] {
    return this.roles.map((role) => ({ role, file: this.#roleOptions(role).file, loaded: false }));
  }

  /** Like `status()`, with the figures of loaded roles. */
  async detailedStatus(): Promise<RoleStatus[]> {
    const result: RoleStatus[] = [];
    for (const role of this.roles) {
      const file = this.#roleOptions(role).file;
      const pending = this.#roles.get(role);
      const loaded = pending === undefined ? undefined : await pending.catch(() => undefined);
      if (loaded === undefined) {
        result.push({ role, file, loaded: false });
        continue;
      }
      result.push({
        role,
        file,
        loaded: true,
        contextSize: loaded.context.contextSize,
        sequences: loaded.slots.capacity,
        activeSequences: loaded.slots.inUse,
        waiting: loaded.slots.waiting,
        estimatedMb: Math.round(loaded.estimatedBytes / mib),
        loadSeconds: loaded.loadSeconds,
      });
    }
    return result;
  }

  /**
   * Unloads every loaded role no request is using or waiting for (its context, and its model when no other
   * loaded role shares the file), giving its RAM back to the budget. The next request loads it again.
   * Returns the roles unloaded.
   */
  async unloadIdle(): Promise<ModelRole[]> {
    const unloaded: ModelRole[] = [];
    for (const [role, pending] of [...this.#roles]) {
      const loaded = await pending.catch(() => undefined);
      if (loaded === undefined || loaded.slots.inUse > 0 || loaded.slots.waiting > 0) continue;
      if (this.#roles.get(role) !== pending) continue;
      this.#roles.delete(role);
      await (await loaded.embedding?.catch(() => undefined))?.dispose();
      await loaded.context.dispose();
      this.#reservedBytes -= loaded.estimatedBytes;
      unloaded.push(role);
    }
    // A model goes once no loaded role uses its file.
    const inUse = new Set<string>();
    for (const pending of this.#roles.values()) {
      const loaded = await pending.catch(() => undefined);
      if (loaded !== undefined) inUse.add(loaded.file);
    }
    for (const [file, pending] of [...this.#models]) {
      if (inUse.has(file)) continue;
      const loaded = await pending.catch(() => undefined);
      this.#models.delete(file);
      await loaded?.model.dispose();
    }
    if (unloaded.length > 0) this.#logger.info({ roles: unloaded }, "unloaded idle models");
    return unloaded;
  }

  /** Releases every context and model; idempotent. In-flight generations fail with a disposed error. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const roles = [...this.#roles.values()];
    this.#roles.clear();
    for (const pending of roles) {
      const loaded = await pending.catch(() => undefined);
      await (await loaded?.embedding?.catch(() => undefined))?.dispose();
      await loaded?.context.dispose();
    }
    const models = [...this.#models.values()];
    this.#models.clear();
    this.#reservedBytes = 0;
    for (const pending of models) {
      const loaded = await pending.catch(() => undefined);
      await loaded?.model.dispose();
    }
  }

  async #loadRole(role: ModelRole): Promise<LoadedRole> {
    const roleOptions = this.#roleOptions(role);
    const estimate = await this.estimate(role);
    const modelIsNew = !this.#models.has(roleOptions.file);
    const neededBytes = (modelIsNew ? estimate.modelBytes : 0) + estimate.contextBytes;
    this.#reserve(roleOptions.file, neededBytes, modelIsNew ? "model and its context" : `${role} context`);
    try {
      const { model, loadSeconds } = await this.#loadModel(
        roleOptions.file,
        modelIsNew ? estimate.modelBytes : 0,
      );
      const sequences = roleOptions.sequences ?? this.#options.sequences;
      let context: LlamaContext;
      try {
        context = await model.createContext({
          contextSize: estimate.contextSize,
          batchSize: Math.min(this.#options.batchSize, estimate.contextSize),
          sequences,
          threads: this.#threads,
        });
      } catch (error) {
        throw new AppError(
          "MODEL_LOAD_FAILED",
          `cannot create a ${estimate.contextSize}-token context for ${roleOptions.file}: ${errorMessage(error)}`,
          { cause: error, param: roleOptions.file },
        );
      }
      this.#logger.info(
        { role, file: roleOptions.file, contextSize: context.contextSize, sequences, loadSeconds },
        "model ready",
      );
      return {
        file: roleOptions.file,
        model,
        chatWrapper: resolveChatWrapper(model) ?? undefined,
        context,
        slots: new Semaphore(sequences, this.#options.maxQueue),
        freeSequences: [],
        embeddingSlots: new Semaphore(1, this.#options.maxQueue),
        estimatedBytes: neededBytes,
        loadSeconds,
      };
    } catch (error) {
      // The context's share is given back; a model that did load keeps its share until dispose.
      this.#reservedBytes -= estimate.contextBytes;
      throw error;
    }
  }

  #loadModel(file: string, modelBytes: number): Promise<{ model: LlamaModel; loadSeconds: number }> {
    let pending = this.#models.get(file);
    if (pending === undefined) {
      pending = (async () => {
        const llama = await this.getLlama();
        const started = performance.now();
        try {
          const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
          return { model, loadSeconds: (performance.now() - started) / 1000 };
        } catch (error) {
          throw new AppError(
            "MODEL_LOAD_FAILED",
            `llama.cpp could not load ${file}: ${errorMessage(error)}`,
            {
              cause: error,
              param: file,
            },
          );
        }
      })();
      this.#models.set(file, pending);
      pending.catch(() => {
        this.#models.delete(file);
        this.#reservedBytes -= modelBytes;
      });
    }
    return pending;
  }

  /** Checks the budget and books the bytes in one synchronous step, so parallel loads cannot both pass. */
  #reserve(file: string, bytes: number, what: string): void {
    const budget = this.#options.ramBudgetBytes;
    const used = this.#reservedBytes;
    if (used + bytes > budget) {
      throw new AppError(
        "MODEL_TOO_LARGE",
        `${file}: the ${what} need about ${formatMb(bytes)} of RAM` +
          (used > 0 ? ` on top of ${formatMb(used)} already loaded` : "") +
          `, over the RAM budget of ${formatMb(budget)} (inference.ramBudgetMb; this machine has ` +
          `${formatMb(os.totalmem())}). Use a smaller quantisation, a smaller context size or fewer sequences.`,
        { param: file },
      );
    }
    this.#reservedBytes += bytes;
  }

  #roleOptions(role: ModelRole): RoleModelOptions {
    const options = this.#options.roles[role];
    if (options === undefined) {
      throw new AppError("MODEL_NOT_FOUND", `no model is configured for the ${role} role (models.${role})`, {
        param: `models.${role}`,
      });
    }
    return options;
  }

  #contextSizeFor(roleOptions: RoleModelOptions, info: ModelFileInfo): number {
    const wanted = roleOptions.contextSize ?? this.#options.contextSize;
    return info.contextLength !== undefined && info.contextLength > 0
      ? Math.min(wanted, info.contextLength)
      : wanted;
  }

  #assertNotDisposed(): void {
    if (this.#disposed) throw new AppError("INFERENCE_FAILED", "the model pool has been disposed");
  }
}

/** Waits for `promise` unless `signal` fires first; the work itself goes on (a model load is shared). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new AbortedError("aborted while the model was loading"));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortedError("aborted while the model was loading"));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function formatMb(bytes: number): string {
  return `${Math.ceil(bytes / mib)} MiB`;
}
