import { stat } from "node:fs/promises";
import { inspectModelFile } from "../inference/index.js";
import { hashFile } from "../shared/index.js";
import type { ModelProbe } from "./types.js";

/** One model role's file and whether SARAi downloaded it (so nobody should ever edit it). */
export interface WatchedModel {
  readonly role: string;
  readonly file: string;
  /** A pulled model (alias, `hf:`, URL) must keep the bytes verified at start; a local file may be replaced. */
  readonly pulled: boolean;
}

interface Baseline {
  size: number;
  mtimeMs: number;
  sha256: string;
  contextLength: number | undefined;
}

interface Verdict {
  size: number;
  mtimeMs: number;
  status: ModelProbe["status"];
  detail: string;
}

/** Hashes computed at earlier starts, by file, size and modification time (the repair history keeps them). */
export interface ModelHashStore {
  knownHash(file: string, size: number, mtimeMs: number): string | undefined;
  rememberHash(file: string, size: number, mtimeMs: number, sha256: string): void;
}

/**
 * Watches the model files: each is hashed and its GGUF header read once at start (in the background; a file whose
 * size and time are those of an earlier start takes that start's hash from `hashes` instead of being read again,
 * which for a model of gigabytes is seconds of a core); a probe
 * then only stats the file, and reads and hashes it again when its size or time changed. A file that no longer
 * parses is corrupt; a pulled file whose hash changed is corrupt; a local file that changed and still parses is
 * taken as replaced on purpose.
 */
export class ModelWatch {
  readonly #models: readonly WatchedModel[];
  readonly #baselines = new Map<string, Baseline>();
  readonly #verdicts = new Map<string, Verdict>();
  readonly #ready: Promise<void>;
  readonly #hashes: ModelHashStore | undefined;

  constructor(models: readonly WatchedModel[], hashes?: ModelHashStore) {
    this.#models = models;
    this.#hashes = hashes;
    this.#ready = Promise.all(models.map((model) => this.#baseline(model.file))).then(() => undefined);
  }

  /** Resolves once every file has been hashed at start. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** The training context length the file's header gives. */
  trainedContext(role: string): number | undefined {
    const model = this.#models.find((m) => m.role === role);
    return model === undefined ? undefined : this.#baselines.get(model.file)?.contextLength;
  }

  /** The hash verified at start. */
  expectedHash(role: string): string | undefined {
    const model = this.#models.find((m) => m.role === role);
    return model === undefined ? undefined : this.#baselines.get(model.file)?.sha256;
  }

  isPulled(role: string): boolean {
    return this.#models.find((m) => m.role === role)?.pulled === true;
  }

  fileOf(role: string): string | undefined {
    return this.#models.find((m) => m.role === role)?.file;
  }

  /** Every watched file as it is now. */
  async probe(): Promise<ModelProbe[]> {
    return Promise.all(this.#models.map((model) => this.#probe(model)));
  }

  /** Checks the file against the start's hash now (after a re-download); true when it matches. */
  async verify(role: string): Promise<{ ok: boolean; detail: string }> {
    const model = this.#models.find((m) => m.role === role);
    if (model === undefined) return { ok: false, detail: `no ${role} model is watched` };
    this.#verdicts.delete(model.file);
    const probe = await this.#probe(model);
    return { ok: probe.status === "ok", detail: probe.detail };
  }

  async #baseline(file: string): Promise<void> {
    try {
      const info = await stat(file);
      const header = await inspectModelFile(file);
      let sha256 = this.#hashes?.knownHash(file, info.size, info.mtimeMs);
      if (sha256 === undefined) {
        sha256 = await hashFile(file);
        this.#rememberHash(file, info.size, info.mtimeMs, sha256);
      }
      this.#baselines.set(file, {
        size: info.size,
        mtimeMs: info.mtimeMs,
        sha256,
        contextLength: header.contextLength,
      });
    } catch {
      // A file that is broken at start has no baseline; its probe reports what is wrong with it.
    }
  }

  /** A hash not kept (the history closed at shutdown) only means hashing again at the next start. */
  #rememberHash(file: string, size: number, mtimeMs: number, sha256: string): void {
    try {
      this.#hashes?.rememberHash(file, size, mtimeMs, sha256);
    } catch {
      // Nothing to repair: the baseline in memory stands.
    }
  }

  async #probe(model: WatchedModel): Promise<ModelProbe> {
    const base = { role: model.role, file: model.file };
    let info;
    try {
      info = await stat(model.file);
    } catch {
      return { ...base, status: "missing", detail: `${model.file} does not exist` };
    }
    const baseline = this.#baselines.get(model.file);
    if (baseline !== undefined && baseline.size === info.size && baseline.mtimeMs === info.mtimeMs)
      return { ...base, status: "ok", detail: "unchanged since start" };
    const cached = this.#verdicts.get(model.file);
    if (cached !== undefined && cached.size === info.size && cached.mtimeMs === info.mtimeMs)
      return { ...base, status: cached.status, detail: cached.detail };
    const verdict = await this.#judge(model, baseline);
    this.#verdicts.set(model.file, { size: info.size, mtimeMs: info.mtimeMs, ...verdict });
    return { ...base, ...verdict };
  }

  async #judge(
    model: WatchedModel,
    baseline: Baseline | undefined,
  ): Promise<Pick<ModelProbe, "status" | "detail">> {
    try {
      await inspectModelFile(model.file);
    } catch (error) {
      return { status: "corrupt", detail: error instanceof Error ? error.message : String(error) };
    }
    if (baseline === undefined) return { status: "ok", detail: "a valid GGUF file" };
    const sha256 = await hashFile(model.file);
    if (sha256 === baseline.sha256) return { status: "ok", detail: "the bytes verified at start" };
    if (!model.pulled) return { status: "ok", detail: "replaced since start; the new file parses" };
    return {
      status: "corrupt",
      detail: `sha256 ${sha256.slice(0, 12)}… differs from ${baseline.sha256.slice(0, 12)}… verified at start`,
    };
  }
}
