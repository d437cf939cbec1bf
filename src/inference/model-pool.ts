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

/** A LoRA adapter applied to a role's context (node-llama-cpp's `lora` option). */
export interface RoleAdapter {
  /** Absolute path of the adapter GGUF. */
  file: string;
  /** Multiplies the adapter's own `alpha / rank`. Default 1. */
  scale?: number;
}

/** The loaded model of a role, lent by {@link ModelPool.useModel} for work outside chat (training, evaluation). */
export interface ModelAccess {
  readonly role: ModelRole;
  readonly file: string;
  readonly model: LlamaModel;
  readonly chatWrapper: ChatWrapper | undefined;
  /** The role's embedding context (created on first use, kept with the role): the hidden state before the output head. */
  embeddingContext(): Promise<LlamaEmbeddingContext>;
  /** Tokens the embedding context holds. */
  readonly embeddingContextSize: number;
  /** The adapter the role's chat context applies, if any. */
  readonly adapter: RoleAdapter | undefined;
}

export interface ModelPoolOptions {
  roles: Partial<Record<ModelRole, RoleModelOptions>>;
  /** CPU threads for llama.cpp; 0 picks {@link resolveThreadCount}'s automatic value. */
  threads: number;
  /** Tokens evaluated per batch. */
  batchSize: number;
  /** Default context window in tokens; {@link ModelPool.reconfigure} changes it. */
  contextSize: number;
  /** Default parallel sequences per context; {@link ModelPool.reconfigure} changes it. */
  sequences: number;
  /** Requests that may wait for a sequence per role; more fail with `QUEUE_FULL`. Unbounded by default. */
  maxQueue?: number | undefined;
  /** Upper bound in bytes on the estimated RAM of all loaded models and contexts together. */
  ramBudgetBytes: number;
  logger?: Logger;
  /** A llama.cpp binding to share (tests, benchmarks); created lazily with `gpu: false` otherwise. */
  llama?: Llama;
}

/** The pool-wide defaults, which {@link ModelPool.reconfigure} changes while the pool runs. */
export interface ModelPoolSettings {
  /** Context window in tokens for roles without their own `contextSize`. */
  contextSize: number;
  /** Parallel sequences per context for roles without their own `sequences`. */
  sequences: number;
  /** Requests that may wait for a sequence per role; `Infinity` when unbounded. */
  maxQueue: number;
  /** Upper bound in bytes on the estimated RAM of all loaded models and contexts together. */
  ramBudgetBytes: number;
}

/** What {@link ModelPool.reconfigure} did. */
export interface PoolReconfiguration {
  /** The settings whose value changed; empty when the call changed nothing. */
  changed: (keyof ModelPoolSettings)[];
  /** Idle roles unloaded at once; their next request loads them with the new settings. */
  unloaded: ModelRole[];
  /** Busy roles that finish their requests on the old context and are loaded anew after the last one. */
  replacing: ModelRole[];
}

/**
 * What {@link ModelPool.reload} did: `unloaded` (idle, dropped now), `deferred` (busy: dropped once its last
 * request ends) or `not-loaded` (nothing held it; its next request reads the file anyway).
 */
export type ReloadOutcome = "unloaded" | "deferred" | "not-loaded";

/** What one role holds once it has been loaded. */
interface LoadedRole {
  role: ModelRole;
  file: string;
  model: LlamaModel;
  chatWrapper: ChatWrapper | undefined;
  context: LlamaContext;
  slots: Semaphore;
  freeSequences: LlamaContextSequence[];
  /** Created on the first embedding request; one request at a time uses it. */
  embedding?: Promise<LlamaEmbeddingContext>;
  embeddingSlots: Semaphore;
  /** Model (when this role loaded it) plus context, as shown in the status. */
  estimatedBytes: number;
  /** The context's share of the RAM budget, given back when the context is disposed. */
  contextBytes: number;
  loadSeconds: number;
  /** The context size asked for (before clamping to the model) and the sequences: what a reconfigure compares. */
  wantedContextSize: number;
  sequences: number;
  /** The adapter the context was created with: what {@link ModelPool.setAdapter} compares. */
  adapter: RoleAdapter | undefined;
  /** Out of the pool (unloaded, reconfigured, reloaded): no new lease; disposed once no request uses it. */
  retired: boolean;
  /** Resolves once a retired role has been disposed; set by `#retire`, with `markGone`. */
  gone?: Promise<void>;
  markGone?: () => void;
  /** Disposal has started. */
  finishing: boolean;
  /** The model to dispose with the context (a reload took it out of the pool's models). */
  ownedModel?: LoadedModel;
  /** Requests waiting for this retired role to go before its replacement loads. */
  replacementWaiting: number;
}

/** One model file loaded, shared by the roles that name it. */
interface LoadedModel {
  pending: Promise<{ model: LlamaModel; loadSeconds: number }>;
  /** Its share of the RAM budget, given back when it is disposed. */
  bytes: number;
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
  /** The LoRA adapter file the loaded context applies. */
  adapter?: string;
  /** A reconfigure or reload replaces this role once its requests end; the figures are the old context's. */
  replacing?: boolean;
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
 *
 * The defaults (`contextSize`, `sequences`, `maxQueue`, `ramBudgetBytes`) change live with
 * {@link ModelPool.reconfigure}; a role whose context no longer matches them is replaced once no request uses
 * it, so a generation in flight always finishes on the context it started on.
 */
export class ModelPool {
  readonly #options: ModelPoolOptions;
  readonly #logger: Logger;
  #settings: Readonly<ModelPoolSettings>;
  #llama: Promise<Llama> | undefined;
  readonly #models = new Map<string, LoadedModel>();
  #reservedBytes = 0;
  readonly #roles = new Map<ModelRole, Promise<LoadedRole>>();
  /** Retired roles still serving requests, by role; the role loads again once its entry is gone. */
  readonly #retiring = new Map<ModelRole, LoadedRole>();
  #disposed = false;
  readonly #threads: number;
  /** The adapter each role's next context applies ({@link setAdapter}). */
  readonly #adapters = new Map<ModelRole, RoleAdapter>();

  constructor(options: ModelPoolOptions) {
    this.#options = options;
    this.#settings = Object.freeze({
      contextSize: options.contextSize,
      sequences: options.sequences,
      maxQueue: options.maxQueue ?? Number.POSITIVE_INFINITY,
      ramBudgetBytes: options.ramBudgetBytes,
    });
    this.#threads = resolveThreadCount(options.threads);
    this.#logger = options.logger ?? createSilentLogger();
    if (options.llama !== undefined) this.#llama = Promise.resolve(options.llama);
  }

  /** The llama.cpp threads this pool uses. */
  get threads(): number {
    return this.#threads;
  }

  /** The current defaults (as given, or as the last {@link reconfigure} left them). */
  get settings(): Readonly<ModelPoolSettings> {
    return this.#settings;
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
  estimate(role: ModelRole): Promise<MemoryEstimate> {
    const roleOptions = this.#roleOptions(role);
    return this.#estimate(roleOptions, this.#wantedContextSize(roleOptions), this.#sequencesFor(roleOptions));
  }

  /**
   * Changes the defaults for roles that do not set their own (a role's `contextSize` or `sequences` in `roles`
   * still wins). A loaded role whose context no longer matches is unloaded at once when idle, so its next
   * request loads it with the new settings; a busy one finishes its requests on the old context and is loaded
   * anew after the last one (requests meanwhile wait for the new context). `maxQueue` applies to the next
   * request; `ramBudgetBytes` to the next load, and when it is now under what is loaded, idle roles are
   * unloaded to give RAM back (see {@link unloadIdle}).
   */
  async reconfigure(changes: Partial<ModelPoolSettings>): Promise<PoolReconfiguration> {
    this.#assertNotDisposed();
    checkSettings(changes);
    const previous = this.#settings;
    const next: ModelPoolSettings = { ...previous };
    const changed: (keyof ModelPoolSettings)[] = [];
    for (const key of ["contextSize", "sequences", "maxQueue", "ramBudgetBytes"] as const) {
      const value = changes[key];
      if (value === undefined || value === previous[key]) continue;
      next[key] = value;
      changed.push(key);
    }
    const result: PoolReconfiguration = { changed, unloaded: [], replacing: [] };
    if (changed.length === 0) return result;
    this.#settings = Object.freeze(next);
    this.#logger.info(
      Object.fromEntries(changed.map((key) => [key, { from: previous[key], to: next[key] }])),
      "model pool reconfigured",
    );
    if (changed.includes("contextSize") || changed.includes("sequences")) {
      for (const [role, pending] of [...this.#roles]) {
        const loaded = await pending.catch(() => undefined);
        if (loaded === undefined || this.#roles.get(role) !== pending || !this.#isStale(loaded)) continue;
        if (this.#isIdle(loaded)) {
          result.unloaded.push(role);
          await this.#retire(pending, loaded);
        } else {
          result.replacing.push(role);
          void this.#retire(pending, loaded);
        }
      }
    }
    if (changed.includes("ramBudgetBytes") && this.#reservedBytes > next.ramBudgetBytes) {
      for (const role of await this.unloadIdle()) {
        if (!result.unloaded.includes(role)) result.unloaded.push(role);
      }
    }
    return result;
  }

  /**
   * Drops the role so that its next request reads the model file from disk again (after a corrupt file was
   * pulled anew): at once when it is idle, else once its last request ends (requests meanwhile wait for the
   * new load). Its model goes with it unless another role uses the same file; that role keeps the loaded model.
   */
  async reload(role: ModelRole): Promise<ReloadOutcome> {
    this.#assertNotDisposed();
    const { file } = this.#roleOptions(role);
    const pending = this.#roles.get(role);
    const loaded = pending === undefined ? undefined : await pending.catch(() => undefined);
    if (pending === undefined || loaded === undefined || this.#roles.get(role) !== pending) {
      const retiring = this.#retiring.get(role);
      if (retiring !== undefined && !retiring.finishing) {
        this.#takeModel(retiring);
        return "deferred";
      }
      // No role holds the file, but its model may still be loaded (a reconfigure keeps it for the next load).
      await this.#disposeUnusedModels(file);
      return "not-loaded";
    }
    this.#takeModel(loaded);
    if (this.#isIdle(loaded)) {
      await this.#retire(pending, loaded);
      return "unloaded";
    }
    void this.#retire(pending, loaded);
    return "deferred";
  }

  /** The adapter the role's next context applies, if any. */
  adapter(role: ModelRole): RoleAdapter | undefined {
    return this.#adapters.get(role);
  }

  /**
   * Applies a LoRA adapter to the role, or removes it (`undefined`), without a restart: an idle role is
   * unloaded at once and its next request gets a context with the adapter; a busy one finishes its requests on
   * the old context (the model itself stays loaded). A file llama.cpp cannot apply fails that next load with
   * `MODEL_LOAD_FAILED`; check it with {@link useModel} first. Resolves with what happened to the loaded role.
   */
  async setAdapter(role: ModelRole, adapter: RoleAdapter | undefined): Promise<ReloadOutcome> {
    this.#assertNotDisposed();
    this.#roleOptions(role);
    if (adapter === undefined) this.#adapters.delete(role);
    else this.#adapters.set(role, { file: adapter.file, scale: adapter.scale ?? 1 });
    this.#logger.info({ role, adapter: adapter?.file ?? null }, "model adapter set");
    const pending = this.#roles.get(role);
    const loaded = pending === undefined ? undefined : await pending.catch(() => undefined);
    if (pending === undefined || loaded === undefined || this.#roles.get(role) !== pending)
      return "not-loaded";
    if (!this.#isStale(loaded)) return "not-loaded";
    if (this.#isIdle(loaded)) {
      await this.#retire(pending, loaded);
      return "unloaded";
    }
    void this.#retire(pending, loaded);
    return "deferred";
  }

  /**
   * Lends the role's loaded model (loading it if needed) to `fn`, one caller at a time together with
   * {@link embed}, for work outside chat: training features, evaluating an adapter on a context of its own.
   * The role is not replaced or disposed while `fn` runs.
   */
  async useModel<T>(
    role: ModelRole,
    signal: AbortSignal,
    fn: (access: ModelAccess) => Promise<T>,
  ): Promise<T> {
    let loaded: LoadedRole;
    for (;;) {
      loaded = await this.#loadForRequest(role, signal);
      this.#checkQueue(loaded.embeddingSlots);
      await loaded.embeddingSlots.acquire(signal);
      if (!loaded.retired) break;
      this.#releaseSlot(loaded, loaded.embeddingSlots);
    }
    const held = loaded;
    const embeddingContextSize = Math.min(held.context.contextSize, 8192);
    try {
      return await fn({
        role,
        file: held.file,
        model: held.model,
        chatWrapper: held.chatWrapper,
        adapter: held.adapter,
        embeddingContextSize,
        embeddingContext: () => {
          // Created while the slot is held, so a retiring role is never disposed before its embedding context.
          held.embedding ??= held.model.createEmbeddingContext({
            contextSize: embeddingContextSize,
            threads: this.#threads,
          });
          return held.embedding;
        },
      });
    } finally {
      this.#releaseSlot(held, held.embeddingSlots);
    }
  }

  /** Loads the role's model and context if they are not loaded yet. */
  load(role: ModelRole): Promise<LoadedRole> {
    this.#assertNotDisposed();
    const current = this.#roles.get(role);
    if (current !== undefined) return current;
    // A replaced role loads again only once its old context is gone: two contexts of one role never compete
    // for the RAM budget.
    const retiring = this.#retiring.get(role);
    if (retiring?.gone !== undefined) return retiring.gone.then(() => this.load(role));
    const loaded = this.#loadRole(role);
    this.#roles.set(role, loaded);
    // A failed load must not stick: the next request tries again (the file may have been fixed).
    loaded.catch(() => {
      if (this.#roles.get(role) === loaded) this.#roles.delete(role);
    });
    return loaded;
  }

  /** Waits for a free sequence of the role (FIFO) and lends it; rejects with `AbortedError` on abort. */
  async acquire(role: ModelRole, signal: AbortSignal): Promise<SequenceLease> {
    for (;;) {
      const loaded = await this.#loadForRequest(role, signal);
      this.#checkQueue(loaded.slots);
      await loaded.slots.acquire(signal);
      // Unloaded or replaced between the load and the slot (or while waiting for it): use the new one.
      if (loaded.retired) {
        this.#releaseSlot(loaded, loaded.slots);
        continue;
      }
      return this.#lend(role, loaded);
    }
  }

  #lend(role: ModelRole, loaded: LoadedRole): SequenceLease {
    let sequence: LlamaContextSequence;
    try {
      // Sequences are kept and reused: node-llama-cpp reclaims a disposed one's slot only asynchronously.
      sequence = loaded.freeSequences.pop() ?? loaded.context.getSequence();
    } catch (error) {
      this.#releaseSlot(loaded, loaded.slots);
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
          // Each request starts from an empty sequence, so output never depends on the one before. A retired
          // context is disposed with its sequences instead.
          if (!loaded.retired) {
            await sequence.clearHistory();
            loaded.freeSequences.push(sequence);
          }
        } catch (error) {
          this.#logger.warn({ role, err: error }, "dropping a sequence that could not be cleared");
          void sequence.dispose();
        } finally {
          this.#releaseSlot(loaded, loaded.slots);
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
    return this.useModel(role, signal, async (access) => {
      const { model } = access;
      const context = await access.embeddingContext();
      const contextSize = access.embeddingContextSize;
      const vectors: number[][] = [];
      let promptTokens = 0;
      for (const [index, text] of texts.entries()) {
        if (signal.aborted) throw new AbortedError();
        const tokens = model.tokenize(text);
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
    });
  }

  status(): RoleStatus[] {
    return this.roles.map((role) => ({ role, file: this.#roleOptions(role).file, loaded: false }));
  }

  /** Like `status()`, with the figures of loaded roles (of the old context while a role is being replaced). */
  async detailedStatus(): Promise<RoleStatus[]> {
    const result: RoleStatus[] = [];
    for (const role of this.roles) {
      const file = this.#roleOptions(role).file;
      const pending = this.#roles.get(role);
      const retiring = this.#retiring.get(role);
      const loaded = pending === undefined ? retiring : ((await pending.catch(() => undefined)) ?? retiring);
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
        waiting: loaded.slots.waiting + loaded.replacementWaiting,
        estimatedMb: Math.round(loaded.estimatedBytes / mib),
        loadSeconds: loaded.loadSeconds,
        ...(loaded.adapter === undefined ? {} : { adapter: loaded.adapter.file }),
        ...(loaded.retired ? { replacing: true } : {}),
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
      if (loaded === undefined || !this.#isIdle(loaded) || this.#roles.get(role) !== pending) continue;
      await this.#retire(pending, loaded);
      unloaded.push(role);
    }
    // A model goes once no loaded role uses its file.
    await this.#disposeUnusedModels();
    if (unloaded.length > 0) this.#logger.info({ roles: unloaded }, "unloaded idle models");
    return unloaded;
  }

  /** Releases every context and model; idempotent. In-flight generations fail with a disposed error. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const roles = [...this.#roles.values()];
    this.#roles.clear();
    const retiring = [...this.#retiring.values()];
    this.#retiring.clear();
    for (const pending of roles) {
      const loaded = await pending.catch(() => undefined);
      if (loaded !== undefined) await this.#disposeContext(loaded);
    }
    for (const loaded of retiring) {
      if (!loaded.finishing) await this.#disposeContext(loaded);
      await (await loaded.ownedModel?.pending.catch(() => undefined))?.model.dispose();
      // Requests waiting for a replacement go on, and fail as the pool is disposed.
      loaded.markGone?.();
    }
    const models = [...this.#models.values()];
    this.#models.clear();
    this.#reservedBytes = 0;
    for (const entry of models) {
      const loaded = await entry.pending.catch(() => undefined);
      await loaded?.model.dispose();
    }
  }

  /** Waits for the role (its replacement, while it is being replaced), counting the wait against `maxQueue`. */
  #loadForRequest(role: ModelRole, signal: AbortSignal): Promise<LoadedRole> {
    const retiring = this.#roles.has(role) ? undefined : this.#retiring.get(role);
    if (retiring?.gone === undefined) return abortable(this.load(role), signal);
    const gone = retiring.gone;
    if (retiring.replacementWaiting >= this.#settings.maxQueue) {
      return Promise.reject(
        new AppError(
          "QUEUE_FULL",
          `the ${role} model is being replaced and ${retiring.replacementWaiting} requests wait`,
        ),
      );
    }
    retiring.replacementWaiting += 1;
    return abortable(gone, signal)
      .finally(() => (retiring.replacementWaiting -= 1))
      .then(() => abortable(this.load(role), signal));
  }

  /** `QUEUE_FULL` when every slot is taken and `maxQueue` requests already wait (read per request: live). */
  #checkQueue(slots: Semaphore): void {
    if (slots.inUse >= slots.capacity && slots.waiting >= this.#settings.maxQueue) {
      throw new AppError(
        "QUEUE_FULL",
        `all ${slots.capacity} sequences are busy and ${slots.waiting} requests wait`,
      );
    }
  }

  #releaseSlot(loaded: LoadedRole, slots: Semaphore): void {
    slots.release();
    this.#finishIfIdle(loaded);
  }

  #isIdle(loaded: LoadedRole): boolean {
    return (
      loaded.slots.inUse === 0 &&
      loaded.slots.waiting === 0 &&
      loaded.embeddingSlots.inUse === 0 &&
      loaded.embeddingSlots.waiting === 0
    );
  }

  /** Whether the role's context no longer matches the defaults and its own options. */
  #isStale(loaded: LoadedRole): boolean {
    const roleOptions = this.#roleOptions(loaded.role);
    return (
      this.#wantedContextSize(roleOptions) !== loaded.wantedContextSize ||
      this.#sequencesFor(roleOptions) !== loaded.sequences ||
      !sameAdapter(this.#adapters.get(loaded.role), loaded.adapter)
    );
  }

  /**
   * Takes the role out of the pool: new requests wait for it to go and then load it again; it is disposed
   * once no request uses or waits for it. Resolves when it is gone.
   */
  #retire(pending: Promise<LoadedRole>, loaded: LoadedRole): Promise<void> {
    if (this.#roles.get(loaded.role) === pending) this.#roles.delete(loaded.role);
    if (loaded.gone !== undefined) return loaded.gone;
    loaded.retired = true;
    this.#retiring.set(loaded.role, loaded);
    loaded.gone = new Promise<void>((resolve) => (loaded.markGone = resolve));
    this.#finishIfIdle(loaded);
    return loaded.gone;
  }

  /** Disposes a retired role once nothing uses it; the last release calls this. */
  #finishIfIdle(loaded: LoadedRole): void {
    if (!loaded.retired || loaded.finishing || !this.#isIdle(loaded)) return;
    loaded.finishing = true;
    void (async () => {
      try {
        if (!this.#disposed) await this.#disposeContext(loaded);
        if (this.#retiring.get(loaded.role) === loaded) this.#retiring.delete(loaded.role);
        const owned = loaded.ownedModel;
        if (owned !== undefined && !this.#disposed) {
          await (await owned.pending.catch(() => undefined))?.model.dispose();
          this.#reservedBytes -= owned.bytes;
        }
      } catch (error) {
        this.#logger.warn({ role: loaded.role, err: error }, "disposing a replaced model context failed");
      } finally {
        loaded.markGone?.();
      }
    })();
  }

  async #disposeContext(loaded: LoadedRole): Promise<void> {
    await (await loaded.embedding?.catch(() => undefined))?.dispose();
    await loaded.context.dispose();
    this.#reservedBytes -= loaded.contextBytes;
  }

  /**
   * Makes the role's model its own to dispose (a reload), unless another role uses the same file: the pool
   * forgets it at once, so the next load of the file reads it from disk again.
   */
  #takeModel(loaded: LoadedRole): void {
    if (loaded.ownedModel !== undefined || this.#fileInUse(loaded.file, loaded.role)) return;
    const entry = this.#models.get(loaded.file);
    if (entry === undefined) return;
    this.#models.delete(loaded.file);
    loaded.ownedModel = entry;
  }

  /** Whether a role other than `except` holds (or is loading) a context on `file`. */
  #fileInUse(file: string, except?: ModelRole): boolean {
    for (const role of [...this.#roles.keys(), ...this.#retiring.keys()]) {
      if (role !== except && this.#options.roles[role]?.file === file) return true;
    }
    return false;
  }

  /** Disposes the models (of `only`, when given) no role holds or is loading a context on. */
  async #disposeUnusedModels(only?: string): Promise<void> {
    for (const [file, entry] of [...this.#models]) {
      if ((only !== undefined && file !== only) || this.#fileInUse(file)) continue;
      const loaded = await entry.pending.catch(() => undefined);
      // Checked again: a load may have started on the model while the await above yielded.
      if (this.#models.get(file) !== entry || this.#fileInUse(file)) continue;
      this.#models.delete(file);
      // A model whose load failed gave its share back already.
      if (loaded !== undefined) {
        this.#reservedBytes -= entry.bytes;
        await loaded.model.dispose();
      }
    }
  }

  async #estimate(
    roleOptions: RoleModelOptions,
    wantedContextSize: number,
    sequences: number,
  ): Promise<MemoryEstimate> {
    const info = await inspectModelFile(roleOptions.file);
    const llama = await this.getLlama();
    const insights = await GgufInsights.from(await readGgufFileInfo(roleOptions.file), llama);
    const contextSize =
      info.contextLength !== undefined && info.contextLength > 0
        ? Math.min(wantedContextSize, info.contextLength)
        : wantedContextSize;
    const model = await insights.estimateModelResourceRequirementsV2({ gpuLayers: 0 });
    const context = await insights.estimateContextResourceRequirementsV2({
      contextSize,
      modelGpuLayers: 0,
      batchSize: Math.min(this.#options.batchSize, contextSize),
      sequences,
    });
    return {
      modelBytes: model.cpuRam,
      contextBytes: context.cpuRam,
      totalBytes: model.cpuRam + context.cpuRam,
      contextSize,
      info,
    };
  }

  async #loadRole(role: ModelRole): Promise<LoadedRole> {
    const roleOptions = this.#roleOptions(role);
    // Read once: a reconfigure during the load makes this role stale rather than half-updated.
    const wantedContextSize = this.#wantedContextSize(roleOptions);
    const sequences = this.#sequencesFor(roleOptions);
    const adapter = this.#adapters.get(role);
    const estimate = await this.#estimate(roleOptions, wantedContextSize, sequences);
    const modelIsNew = !this.#models.has(roleOptions.file);
    const neededBytes = (modelIsNew ? estimate.modelBytes : 0) + estimate.contextBytes;
    this.#reserve(roleOptions.file, neededBytes, modelIsNew ? "model and its context" : `${role} context`);
    try {
      const { model, loadSeconds } = await this.#loadModel(
        roleOptions.file,
        modelIsNew ? estimate.modelBytes : 0,
      );
      let context: LlamaContext;
      try {
        context = await model.createContext({
          contextSize: estimate.contextSize,
          batchSize: Math.min(this.#options.batchSize, estimate.contextSize),
          sequences,
          threads: this.#threads,
          ...(adapter === undefined
            ? {}
            : { lora: { adapters: [{ filePath: adapter.file, scale: adapter.scale ?? 1 }] } }),
        });
      } catch (error) {
        throw new AppError(
          "MODEL_LOAD_FAILED",
          `cannot create a ${estimate.contextSize}-token context for ${roleOptions.file}` +
            `${adapter === undefined ? "" : ` with the adapter ${adapter.file}`}: ${errorMessage(error)}`,
          { cause: error, param: roleOptions.file },
        );
      }
      this.#logger.info(
        {
          role,
          file: roleOptions.file,
          contextSize: context.contextSize,
          sequences,
          loadSeconds,
          ...(adapter === undefined ? {} : { adapter: adapter.file }),
        },
        "model ready",
      );
      return {
        role,
        file: roleOptions.file,
        model,
        chatWrapper: resolveChatWrapper(model) ?? undefined,
        context,
        // The queue bound is checked by the pool (#checkQueue), so a reconfigured maxQueue applies at once.
        slots: new Semaphore(sequences),
        freeSequences: [],
        embeddingSlots: new Semaphore(1),
        estimatedBytes: neededBytes,
        contextBytes: estimate.contextBytes,
        loadSeconds,
        wantedContextSize,
        sequences,
        adapter,
        retired: false,
        finishing: false,
        replacementWaiting: 0,
      };
    } catch (error) {
      // The context's share is given back; a model that did load keeps its share until it is disposed.
      this.#reservedBytes -= estimate.contextBytes;
      throw error;
    }
  }

  #loadModel(file: string, modelBytes: number): Promise<{ model: LlamaModel; loadSeconds: number }> {
    const existing = this.#models.get(file);
    if (existing !== undefined) return existing.pending;
    const pending = (async () => {
      const llama = await this.getLlama();
      const started = performance.now();
      try {
        const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
        return { model, loadSeconds: (performance.now() - started) / 1000 };
      } catch (error) {
        throw new AppError("MODEL_LOAD_FAILED", `llama.cpp could not load ${file}: ${errorMessage(error)}`, {
          cause: error,
          param: file,
        });
      }
    })();
    const entry: LoadedModel = { pending, bytes: modelBytes };
    this.#models.set(file, entry);
    pending.catch(() => {
      if (this.#models.get(file) === entry) this.#models.delete(file);
      this.#reservedBytes -= modelBytes;
      // Its share is given back here; whoever holds the entry must not give it back again.
      entry.bytes = 0;
    });
    return pending;
  }

  /** Checks the budget and books the bytes in one synchronous step, so parallel loads cannot both pass. */
  #reserve(file: string, bytes: number, what: string): void {
    const budget = this.#settings.ramBudgetBytes;
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

  #wantedContextSize(roleOptions: RoleModelOptions): number {
    return roleOptions.contextSize ?? this.#settings.contextSize;
  }

  #sequencesFor(roleOptions: RoleModelOptions): number {
    return roleOptions.sequences ?? this.#settings.sequences;
  }

  #assertNotDisposed(): void {
    if (this.#disposed) throw new AppError("INFERENCE_FAILED", "the model pool has been disposed");
  }
}

/** Refuses settings no pool could run with (the config schema refuses them earlier, with its path). */
function checkSettings(changes: Partial<ModelPoolSettings>): void {
  const positive = (value: number | undefined) =>
    value === undefined || (Number.isInteger(value) && value >= 1);
  if (!positive(changes.contextSize)) throw new RangeError("contextSize must be a positive integer");
  if (!positive(changes.sequences)) throw new RangeError("sequences must be a positive integer");
  const { maxQueue, ramBudgetBytes } = changes;
  if (maxQueue !== undefined && !(maxQueue >= 0 && (Number.isInteger(maxQueue) || maxQueue === Infinity)))
    throw new RangeError("maxQueue must be a non-negative integer or Infinity");
  if (ramBudgetBytes !== undefined && !(ramBudgetBytes >= 0))
    throw new RangeError("ramBudgetBytes must be ≥ 0");
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

function sameAdapter(a: RoleAdapter | undefined, b: RoleAdapter | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.file === b.file && (a.scale ?? 1) === (b.scale ?? 1);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function formatMb(bytes: number): string {
  return `${Math.ceil(bytes / mib)} MiB`;
}
