/**
 * The archive of every LoRA adapter the learning loop makes: `<id>.gguf` beside `<id>.json` (its record), each
 * with a detached OpenPGP signature by the installation key (`<id>.gguf.asc`, `<id>.json.asc`). The record holds
 * the adapter's sha256, so the two signatures also bind the pair together. Nothing leaves the archive unverified.
 */
import { createHash, randomUUID } from "node:crypto";
import { chmod, link, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import {
  signatureFileFor,
  signFile,
  verifyFile,
  type SigningKey,
  type TrustedKey,
} from "../security/index.js";
import { AppError, type Logger } from "../shared/index.js";

/** Where an adapter is in its life: made, passed the gate and in use, failed the gate, replaced. */
export const adapterStatuses = ["candidate", "promoted", "refused", "retired"] as const;
export type AdapterStatus = (typeof adapterStatuses)[number];

/** One archived adapter, as its signed `<id>.json` holds it. */
export interface AdapterRecord {
  /** `lora-YYYYMMDD-HHMMSS-xxxxxx`: `createdAt` in UTC and the first 6 hex digits of `sha256`; sorts by time. */
  id: string;
  /** Unix ms. */
  createdAt: number;
  /** The base model's file name (no folder): the adapter only fits that model. */
  baseModel: string;
  /** The base model file's sha256 (64 lower-case hex digits). */
  baseModelSha256: string;
  rank: number;
  alpha: number;
  /** Training examples used. */
  examples: number;
  /** The gate's figures, added later with `annotate`. */
  metrics?: Record<string, number>;
  status: AdapterStatus;
  /** The sha256 of the adapter `.gguf`. */
  sha256: string;
}

/** What `store` is given: the record without what the archive computes. */
export type NewAdapterRecord = Omit<AdapterRecord, "id" | "sha256" | "status" | "createdAt"> & {
  /** Unix ms. Default: the archive's clock. */
  createdAt?: number;
  /** Default: `candidate`. */
  status?: AdapterStatus;
};

/** What `annotate` changes; given metrics are merged into the record's (a given name replaces its value). */
export interface AdapterChanges {
  status?: AdapterStatus;
  metrics?: Record<string, number>;
}

/** An entry `list` found but could not read: a missing or unreadable `<id>.json`. */
export interface DamagedAdapter {
  id: string;
  /** Read from the id (second precision). */
  createdAt: number;
  /** Why, naming the file: `lora-….json is missing`. */
  damaged: string;
}

/** A `list` entry: a record (unverified; `restore` verifies) or a damaged entry. */
export type ArchivedAdapter = AdapterRecord | DamagedAdapter;

export interface AdapterArchiveOptions {
  /** The archive folder; made with mode 0700 (and set to it) when opened. */
  dir: string;
  /** Signs what `store` and `annotate` write; without it they fail with `SIGNING_KEY_MISSING`. */
  signingKey?: SigningKey | undefined;
  /** The key signatures must be made by. Default: the public half of `signingKey`. */
  trustedKey?: TrustedKey | undefined;
  /** Unix ms; names new adapters and ages them for `rotate`. Default: `Date.now`. */
  now?: () => number;
  logger?: Logger | undefined;
}

export interface RotateOptions {
  /** Entries older than this many days are removed. Default: 30. */
  keepDays?: number;
  /** Ids never removed, whatever their age: the promoted adapter and the one before it. */
  keep?: ReadonlySet<string>;
}

const idPattern = /^lora-\d{8}-\d{6}-[0-9a-f]{6}$/;
/** The id at the start of any file of an entry (temporary files included). */
const entryFilePattern = /^(lora-\d{8}-\d{6}-[0-9a-f]{6})\./;
const sha256Pattern = /^[0-9a-f]{64}$/;
const dayMs = 86_400_000;
/** The largest time `toISOString` writes with a 4-digit year. */
const maxTime = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

const recordSchema = z
  .object({
    id: z.string().regex(idPattern, "is not an adapter id"),
    createdAt: z.number().int().min(0).max(maxTime),
    baseModel: z
      .string()
      .min(1)
      .refine(
        (name) => !/[/\\]/.test(name) && name !== "." && name !== "..",
        "must be a file name, not a path",
      ),
    baseModelSha256: z.string().regex(sha256Pattern, "must be 64 lower-case hex digits"),
    rank: z.number().int().positive(),
    alpha: z.number().positive(),
    examples: z.number().int().min(0),
    metrics: z.record(z.string().min(1), z.number()).optional(),
    status: z.enum(adapterStatuses),
    sha256: z.string().regex(sha256Pattern, "must be 64 lower-case hex digits"),
  })
  .strict();

const changesSchema = recordSchema.pick({ status: true, metrics: true }).partial().strict();

/**
 * Archives, verifies and rotates LoRA adapters. Files are owner-only (folder 0700, files 0600). `list` and `get`
 * read records without checking signatures; `restore` checks everything before it hands out a path. Writes by one
 * archive object run one at a time; two processes writing the same folder are not coordinated.
 */
export class AdapterArchive {
  readonly #dir: string;
  readonly #signingKey: SigningKey | undefined;
  readonly #trustedKey: TrustedKey | undefined;
  readonly #now: () => number;
  readonly #logger: Logger | undefined;
  #writes: Promise<unknown> = Promise.resolve();

  private constructor(options: AdapterArchiveOptions, dir: string) {
    this.#dir = dir;
    this.#signingKey = options.signingKey;
    this.#trustedKey = options.trustedKey ?? trustedKeyOf(options.signingKey);
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger;
  }

  /** Opens (and makes) the archive folder. */
  static async open(options: AdapterArchiveOptions): Promise<AdapterArchive> {
    const dir = path.resolve(options.dir);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    return new AdapterArchive(options, dir);
  }

  /** The archive folder (absolute). */
  get dir(): string {
    return this.#dir;
  }

  /** Whether `store` and `annotate` can sign (a signing key was given). */
  get canSign(): boolean {
    return this.#signingKey !== undefined;
  }

  /**
   * Copies `adapterFile` into the archive as `<id>.gguf`, writes its record as `<id>.json` and signs both. Fails
   * with `SIGNING_KEY_MISSING` without a signing key, `INVALID_REQUEST` naming a bad record field,
   * `ADAPTER_NOT_FOUND` when the file does not exist and `ADAPTER_EXISTS` when its id is taken; nothing is left
   * behind on failure. Reads the whole adapter into memory (LoRA adapters are tens of MB).
   */
  store(adapterFile: string, input: NewAdapterRecord): Promise<AdapterRecord> {
    return this.#serially(async () => {
      const signingKey = this.#requireSigningKey("archive an adapter");
      const bytes = await readFile(adapterFile).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") {
          throw new AppError("ADAPTER_NOT_FOUND", `no adapter file at ${adapterFile}`, {
            param: adapterFile,
            cause: error,
          });
        }
        throw error;
      });
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      const createdAt = input.createdAt ?? this.#now();
      const record = parseRecord({
        id: idFor(createdAt, sha256),
        createdAt,
        baseModel: input.baseModel,
        baseModelSha256: input.baseModelSha256,
        rank: input.rank,
        alpha: input.alpha,
        examples: input.examples,
        ...(input.metrics === undefined ? {} : { metrics: input.metrics }),
        status: input.status ?? "candidate",
        sha256,
      });
      const gguf = this.#file(record.id, "gguf");
      const temporary = `${gguf}.${randomUUID()}.tmp`;
      let claimed = false;
      try {
        await writeFile(temporary, bytes, { mode: 0o600, flag: "wx" });
        await chmod(temporary, 0o600);
        // link, unlike rename, refuses to replace an existing file: two stores cannot both get one id.
        await link(temporary, gguf).catch((error: unknown) => {
          if ((error as NodeJS.ErrnoException).code === "EEXIST") {
            throw new AppError(
              "ADAPTER_EXISTS",
              `the archive already holds ${record.id} (the same adapter file, archived within the same second)`,
              { param: record.id, cause: error },
            );
          }
          throw error;
        });
        claimed = true;
        await rm(temporary, { force: true });
        await chmod(await signFile(gguf, signingKey), 0o600);
        await this.#writeRecord(record, signingKey);
      } catch (error) {
        await rm(temporary, { force: true });
        if (claimed) await this.#remove(record.id);
        throw error;
      }
      this.#logger?.info(
        { adapter: record.id, baseModel: record.baseModel, examples: record.examples },
        "adapter archived",
      );
      return record;
    });
  }

  /** Every entry, newest first; a missing or unreadable record is listed as a `DamagedAdapter`, not thrown. */
  async list(): Promise<ArchivedAdapter[]> {
    const entries = await Promise.all([...(await this.#ids())].map((id) => this.#read(id)));
    return entries.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  }

  /**
   * The record of `id` (unverified), or undefined when the archive has no such entry. A damaged entry is
   * `ADAPTER_TAMPERED`; an id not of the `lora-YYYYMMDD-HHMMSS-xxxxxx` form is `INVALID_REQUEST`.
   */
  async get(id: string): Promise<AdapterRecord | undefined> {
    checkId(id);
    if (!(await this.#ids()).has(id)) return undefined;
    const entry = await this.#read(id);
    if ("damaged" in entry) throw tampered(id, entry.damaged);
    return entry;
  }

  /**
   * Checks the record's signature, the adapter's sha256 and the adapter's signature against the trusted key, then
   * returns the absolute path of the verified `.gguf`. A missing, altered, unsigned or foreign-signed file is
   * `ADAPTER_TAMPERED` (the message names the file and what failed); an unknown id is `ADAPTER_NOT_FOUND`;
   * without a trusted key, `SIGNING_KEY_MISSING`.
   */
  async restore(id: string): Promise<string> {
    checkId(id);
    const trusted = this.#requireTrustedKey("restore an adapter");
    const record = await this.#readVerified(id, trusted);
    const gguf = this.#file(id, "gguf");
    const bytes = await this.#readEntryFile(id, "gguf");
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    if (sha256 !== record.sha256) {
      throw this.#refuse(id, `${id}.gguf: its sha256 ${sha256} is not the record's ${record.sha256}`);
    }
    const check = await verifyFile(gguf, trusted, new Uint8Array(bytes));
    if (!check.ok) throw this.#refuse(id, `${id}.gguf: ${check.message}`);
    return gguf;
  }

  /**
   * Sets the status and merges metrics into the record, after checking its signature (a hand-edited record is
   * `ADAPTER_TAMPERED`, never re-signed), and writes it signed again. The record and its signature are each
   * replaced whole; a crash between the two leaves the entry refused, never trusted.
   */
  annotate(id: string, changes: AdapterChanges): Promise<AdapterRecord> {
    return this.#serially(async () => {
      checkId(id);
      const parsed = changesSchema.safeParse(changes);
      if (!parsed.success) throw invalidField(parsed.error, "changes");
      const signingKey = this.#requireSigningKey("annotate an adapter");
      const trusted = this.#requireTrustedKey("annotate an adapter");
      const current = await this.#readVerified(id, trusted);
      const metrics =
        parsed.data.metrics === undefined ? current.metrics : { ...current.metrics, ...parsed.data.metrics };
      const record: AdapterRecord = {
        ...current,
        ...(metrics === undefined ? {} : { metrics }),
        status: parsed.data.status ?? current.status,
      };
      await this.#writeRecord(record, signingKey);
      this.#logger?.info({ adapter: id, status: record.status }, "adapter annotated");
      return record;
    });
  }

  /**
   * Removes every entry (damaged ones too) created more than `keepDays` before now, except the ids in `keep`, and
   * returns the removed ids, newest first.
   */
  rotate(options: RotateOptions = {}): Promise<string[]> {
    return this.#serially(async () => {
      const keepDays = options.keepDays ?? 30;
      if (!Number.isFinite(keepDays) || keepDays < 0) {
        throw new AppError("INVALID_REQUEST", `keepDays must be a number of days ≥ 0, not ${keepDays}`, {
          param: "keepDays",
        });
      }
      const cutoff = this.#now() - keepDays * dayMs;
      const removed: string[] = [];
      for (const entry of await this.list()) {
        if (entry.createdAt >= cutoff || options.keep?.has(entry.id) === true) continue;
        await this.#remove(entry.id);
        removed.push(entry.id);
      }
      if (removed.length > 0) this.#logger?.info({ removed, keepDays }, "adapters rotated out");
      return removed;
    });
  }

  #serially<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#writes.then(task);
    this.#writes = result.catch(() => undefined);
    return result;
  }

  #file(id: string, kind: "gguf" | "json"): string {
    return path.join(this.#dir, `${id}.${kind}`);
  }

  /** The ids of every file in the folder named like an entry's. */
  async #ids(): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const name of await readdir(this.#dir)) {
      const id = entryFilePattern.exec(name)?.[1];
      if (id !== undefined) ids.add(id);
    }
    return ids;
  }

  async #read(id: string): Promise<ArchivedAdapter> {
    const damaged = (why: string): DamagedAdapter => ({ id, createdAt: timeOfId(id), damaged: why });
    let text: string;
    try {
      text = await readFile(this.#file(id, "json"), "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return damaged(code === "ENOENT" ? `${id}.json is missing` : `${id}.json cannot be read (${code})`);
    }
    const result = decodeRecord(id, text);
    return typeof result === "string" ? damaged(result) : result;
  }

  /** The record, after its signature, its form and its id check out. */
  async #readVerified(id: string, trusted: TrustedKey): Promise<AdapterRecord> {
    if (!(await this.#ids()).has(id)) {
      throw new AppError("ADAPTER_NOT_FOUND", `no adapter ${id} in the archive`, { param: id });
    }
    const bytes = await this.#readEntryFile(id, "json");
    const check = await verifyFile(this.#file(id, "json"), trusted, new Uint8Array(bytes));
    if (!check.ok) throw this.#refuse(id, `${id}.json: ${check.message}`);
    const result = decodeRecord(id, bytes.toString("utf8"));
    if (typeof result === "string") throw this.#refuse(id, result);
    return result;
  }

  async #readEntryFile(id: string, kind: "gguf" | "json"): Promise<Buffer> {
    try {
      return await readFile(this.#file(id, kind));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw this.#refuse(id, `${id}.${kind} is missing`);
      throw error;
    }
  }

  /** Writes `<id>.json` and its signature, each by temporary file and rename. */
  async #writeRecord(record: AdapterRecord, signingKey: SigningKey): Promise<void> {
    const target = this.#file(record.id, "json");
    const temporary = `${target}.${randomUUID()}.tmp`;
    let signature: string | undefined;
    try {
      await writeFile(temporary, `${JSON.stringify(record, undefined, 2)}\n`, { mode: 0o600, flag: "wx" });
      await chmod(temporary, 0o600);
      signature = await signFile(temporary, signingKey);
      await chmod(signature, 0o600);
      await rename(signature, signatureFileFor(target));
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true });
      if (signature !== undefined) await rm(signature, { force: true });
      throw error;
    }
  }

  /** Deletes every file of the entry, the record last (a half-removed entry still lists, as damaged). */
  async #remove(id: string): Promise<void> {
    const names = (await readdir(this.#dir)).filter((name) => name.startsWith(`${id}.`));
    const record = `${id}.json`;
    for (const name of names.filter((name) => name !== record)) {
      await rm(path.join(this.#dir, name), { force: true });
    }
    await rm(path.join(this.#dir, record), { force: true });
  }

  #refuse(id: string, why: string): AppError {
    this.#logger?.warn({ adapter: id, dir: this.#dir, reason: why }, "archived adapter refused");
    return tampered(id, why);
  }

  #requireSigningKey(action: string): SigningKey {
    if (this.#signingKey !== undefined) return this.#signingKey;
    throw new AppError(
      "SIGNING_KEY_MISSING",
      `no signing key to ${action} with; run \`sarai keys init\` first`,
    );
  }

  #requireTrustedKey(action: string): TrustedKey {
    if (this.#trustedKey !== undefined) return this.#trustedKey;
    throw new AppError(
      "SIGNING_KEY_MISSING",
      `no trusted public key to ${action} with; run \`sarai keys init\` first`,
    );
  }
}

function trustedKeyOf(signingKey: SigningKey | undefined): TrustedKey | undefined {
  if (signingKey === undefined) return undefined;
  return { fingerprint: signingKey.fingerprint, key: signingKey.key.toPublic() };
}

/** `lora-20261207-031500-ab12cd` for 2026-12-07 03:15:00 UTC and a sha256 starting `ab12cd`. */
function idFor(createdAt: number, sha256: string): string {
  if (!Number.isInteger(createdAt) || createdAt < 0 || createdAt > maxTime) {
    throw new AppError(
      "INVALID_REQUEST",
      `createdAt must be unix ms between 0 and year 9999, not ${createdAt}`,
      {
        param: "createdAt",
      },
    );
  }
  const iso = new Date(createdAt).toISOString(); // 2026-12-07T03:15:00.000Z
  const stamp = `${iso.slice(0, 10).replaceAll("-", "")}-${iso.slice(11, 19).replaceAll(":", "")}`;
  return `lora-${stamp}-${sha256.slice(0, 6)}`;
}

function timeOfId(id: string): number {
  const [, date = "", time = ""] = id.split("-");
  return Date.UTC(
    Number(date.slice(0, 4)),
    Number(date.slice(4, 6)) - 1,
    Number(date.slice(6, 8)),
    Number(time.slice(0, 2)),
    Number(time.slice(2, 4)),
    Number(time.slice(4, 6)),
  );
}

function checkId(id: string): void {
  if (typeof id === "string" && idPattern.test(id)) return;
  const shown = JSON.stringify(String(id).slice(0, 80));
  throw new AppError(
    "INVALID_REQUEST",
    `adapter id ${shown} is not of the form lora-YYYYMMDD-HHMMSS-xxxxxx`,
    {
      param: "id",
    },
  );
}

function parseRecord(candidate: unknown): AdapterRecord {
  const parsed = recordSchema.safeParse(candidate);
  if (!parsed.success) throw invalidField(parsed.error, "record");
  return parsed.data;
}

/** The record in `text`, or why it is not one (naming `<id>.json`). */
function decodeRecord(id: string, text: string): AdapterRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return `${id}.json is not JSON`;
  }
  const parsed = recordSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return `${id}.json: ${issue?.path.join(".") || "record"} ${issue?.message ?? "is invalid"}`;
  }
  if (parsed.data.id !== id) return `${id}.json holds the record of ${parsed.data.id}`;
  return parsed.data;
}

function invalidField(error: z.ZodError, what: string): AppError {
  const issue = error.issues[0];
  const field = issue === undefined || issue.path.length === 0 ? what : issue.path.join(".");
  return new AppError("INVALID_REQUEST", `adapter ${what}: ${field}: ${issue?.message ?? "is invalid"}`, {
    param: field,
  });
}

function tampered(id: string, why: string): AppError {
  return new AppError("ADAPTER_TAMPERED", `archived adapter refused: ${why}`, { param: id });
}
