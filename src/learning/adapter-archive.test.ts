import { randomBytes } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  generateSigningKey,
  loadSigningKey,
  loadTrustedKey,
  signFile,
  type SigningKey,
  type TrustedKey,
} from "../security/index.js";
import { AppError } from "../shared/index.js";
import { AdapterArchive, type AdapterRecord, type NewAdapterRecord } from "./adapter-archive.js";

const day = 86_400_000;
const t0 = Date.UTC(2026, 11, 7, 3, 15, 0);

interface KeyPair {
  signing: SigningKey;
  trusted: TrustedKey;
}

let keys: KeyPair;
let otherKeys: KeyPair;
let root: string;
let dir: string;

/** A fresh Ed25519 key pair, through the same files `sarai keys init` writes. */
async function makeKeys(folder: string): Promise<KeyPair> {
  const pair = await generateSigningKey();
  await mkdir(folder, { recursive: true });
  await writeFile(path.join(folder, "key.asc"), pair.privateKey);
  await writeFile(path.join(folder, "key.pub.asc"), pair.publicKey);
  return {
    signing: await loadSigningKey(path.join(folder, "key.asc")),
    trusted: (await loadTrustedKey(path.join(folder, "key.pub.asc"))) as TrustedKey,
  };
}

beforeAll(async () => {
  const keyDir = await mkdtemp(path.join(os.tmpdir(), "sarai-adapter-keys-"));
  keys = await makeKeys(path.join(keyDir, "install"));
  otherKeys = await makeKeys(path.join(keyDir, "other"));
  await rm(keyDir, { recursive: true, force: true });
});

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "sarai-adapters-"));
  dir = path.join(root, "state", "adapters");
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** An archive in `dir` with the install key; `null` for no key at all. */
function openArchive(now = () => t0, key: KeyPair | null = keys): Promise<AdapterArchive> {
  return AdapterArchive.open({
    dir,
    now,
    ...(key === null ? {} : { signingKey: key.signing, trustedKey: key.trusted }),
  });
}

/** An adapter file as the trainer leaves it, outside the archive. */
async function trainedAdapter(
  bytes: Uint8Array = randomBytes(4096),
): Promise<{ file: string; bytes: Uint8Array }> {
  const file = path.join(root, "trainer", `out-${randomBytes(4).toString("hex")}.gguf`);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, bytes);
  return { file, bytes };
}

const details: NewAdapterRecord = {
  baseModel: "qwen2.5-0.5b-instruct-q4_k_m.gguf",
  baseModelSha256: "ab".repeat(32),
  rank: 8,
  alpha: 16,
  examples: 120,
};

async function storeOne(
  archive: AdapterArchive,
  extra: Partial<NewAdapterRecord> = {},
): Promise<AdapterRecord> {
  const { file } = await trainedAdapter();
  return archive.store(file, { ...details, ...extra });
}

async function expectAppError(promise: Promise<unknown>, code: string): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
  return error as AppError;
}

const entryFile = (id: string, suffix: string) => path.join(dir, `${id}.${suffix}`);

describe("learning", () => {
  describe("adapter archive", () => {
    describe("store and restore", () => {
      it("gives back the exact bytes, signed, in owner-only files", async () => {
        const archive = await openArchive();
        const { file, bytes } = await trainedAdapter();
        const record = await archive.store(file, { ...details, metrics: { loss: 1.25 } });

        expect(record).toMatchObject({
          ...details,
          createdAt: t0,
          status: "candidate",
          metrics: { loss: 1.25 },
        });
        expect(record.id).toMatch(/^lora-20261207-031500-[0-9a-f]{6}$/);
        expect(record.sha256.startsWith(record.id.slice(-6))).toBe(true);

        const restored = await archive.restore(record.id);
        expect(path.isAbsolute(restored)).toBe(true);
        expect(path.dirname(restored)).toBe(path.resolve(dir));
        expect((await readFile(restored)).equals(Buffer.from(bytes))).toBe(true);
        expect(JSON.parse(await readFile(entryFile(record.id, "json"), "utf8"))).toEqual(record);
        expect(await archive.get(record.id)).toEqual(record);

        expect((await stat(dir)).mode & 0o777).toBe(0o700);
        const names = (await readdir(dir)).sort();
        expect(names).toEqual(
          ["gguf", "gguf.asc", "json", "json.asc"].map((suffix) => `${record.id}.${suffix}`),
        );
        for (const name of names) expect((await stat(path.join(dir, name))).mode & 0o777, name).toBe(0o600);
      });

      it("refuses to store without a signing key, and writes nothing", async () => {
        const archive = await openArchive(undefined, null);
        const { file } = await trainedAdapter();
        const error = await expectAppError(archive.store(file, details), "SIGNING_KEY_MISSING");
        expect(error.message).toMatch(/sarai keys init/);
        expect(await readdir(dir)).toEqual([]);
      });

      it("refuses a record field out of range, naming it, and writes nothing", async () => {
        const archive = await openArchive();
        const { file } = await trainedAdapter();
        const error = await expectAppError(archive.store(file, { ...details, rank: 0 }), "INVALID_REQUEST");
        expect(error.param).toBe("rank");
        const pathName = await expectAppError(
          archive.store(file, { ...details, baseModel: "/models/base.gguf" }),
          "INVALID_REQUEST",
        );
        expect(pathName.message).toMatch(/baseModel: must be a file name/);
        expect(await readdir(dir)).toEqual([]);
      });

      it("refuses the same adapter archived twice in one second, keeping the first", async () => {
        const archive = await openArchive();
        const { file } = await trainedAdapter();
        const first = await archive.store(file, details);
        const error = await expectAppError(
          archive.store(file, { ...details, examples: 5 }),
          "ADAPTER_EXISTS",
        );
        expect(error.message).toContain(first.id);
        expect(await archive.get(first.id)).toEqual(first);
        await archive.restore(first.id);
      });

      it("says ADAPTER_NOT_FOUND for an unknown id or a missing adapter file", async () => {
        const archive = await openArchive();
        const error = await expectAppError(
          archive.restore("lora-20261207-031500-abcdef"),
          "ADAPTER_NOT_FOUND",
        );
        expect(error.message).toContain("lora-20261207-031500-abcdef");
        expect(await archive.get("lora-20261207-031500-abcdef")).toBeUndefined();
        await expectAppError(archive.store(path.join(root, "nothing.gguf"), details), "ADAPTER_NOT_FOUND");
      });

      it("refuses to restore without a trusted key", async () => {
        const record = await storeOne(await openArchive());
        const bare = await openArchive(undefined, null);
        await expectAppError(bare.restore(record.id), "SIGNING_KEY_MISSING");
      });

      it("trusts the signing key's public half when no trusted key is given", async () => {
        const archive = await AdapterArchive.open({ dir, now: () => t0, signingKey: keys.signing });
        const record = await storeOne(archive);
        await expect(archive.restore(record.id)).resolves.toBe(entryFile(record.id, "gguf"));
      });
    });

    describe("tampering", () => {
      it("refuses an adapter with one byte flipped", async () => {
        const archive = await openArchive();
        const record = await storeOne(archive);
        const file = entryFile(record.id, "gguf");
        const bytes = await readFile(file);
        bytes[100] = (bytes[100] ?? 0) ^ 0x01;
        await writeFile(file, bytes);

        const error = await expectAppError(archive.restore(record.id), "ADAPTER_TAMPERED");
        expect(error.message).toContain(`${record.id}.gguf`);
        expect(error.message).toMatch(/sha256/);
      });

      it("refuses a record edited by hand, and will not re-sign it", async () => {
        const archive = await openArchive();
        const record = await storeOne(archive);
        const file = entryFile(record.id, "json");
        await writeFile(file, (await readFile(file, "utf8")).replace('"candidate"', '"promoted"'));
        expect((await archive.get(record.id))?.status).toBe("promoted");

        const error = await expectAppError(archive.restore(record.id), "ADAPTER_TAMPERED");
        expect(error.message).toContain(`${record.id}.json`);
        expect(error.message).toMatch(/changed after it was signed/);
        await expectAppError(archive.annotate(record.id, { metrics: { winRate: 0.9 } }), "ADAPTER_TAMPERED");
        await expectAppError(archive.restore(record.id), "ADAPTER_TAMPERED");
      });

      it.each(["gguf", "json"])("refuses an entry whose %s signature was deleted", async (kind) => {
        const archive = await openArchive();
        const record = await storeOne(archive);
        await rm(entryFile(record.id, `${kind}.asc`));
        const error = await expectAppError(archive.restore(record.id), "ADAPTER_TAMPERED");
        expect(error.message).toContain(`${record.id}.${kind}`);
        expect(error.message).toMatch(/no signature/);
      });

      it("refuses an entry signed by another key", async () => {
        const foreign = await storeOne(await openArchive(undefined, otherKeys));
        const archive = await openArchive();
        const error = await expectAppError(archive.restore(foreign.id), "ADAPTER_TAMPERED");
        expect(error.message).toMatch(/another key/);

        // Only the adapter re-signed by the other key: its signature is refused even though the record's holds.
        const record = await storeOne(archive, { createdAt: t0 + 1000 });
        await signFile(entryFile(record.id, "gguf"), otherKeys.signing);
        const partly = await expectAppError(archive.restore(record.id), "ADAPTER_TAMPERED");
        expect(partly.message).toContain(`${record.id}.gguf`);
        expect(partly.message).toMatch(/another key/);
      });

      it("refuses a validly signed file moved under another entry's name", async () => {
        const archive = await openArchive();
        const a = await storeOne(archive);
        const b = await storeOne(archive, { createdAt: t0 + 1000 });
        for (const suffix of ["gguf", "gguf.asc"])
          await copyFile(entryFile(a.id, suffix), entryFile(b.id, suffix));
        const swappedAdapter = await expectAppError(archive.restore(b.id), "ADAPTER_TAMPERED");
        expect(swappedAdapter.message).toMatch(/sha256/);

        const c = await storeOne(archive, { createdAt: t0 + 2000 });
        for (const suffix of ["json", "json.asc"])
          await copyFile(entryFile(a.id, suffix), entryFile(c.id, suffix));
        const swappedRecord = await expectAppError(archive.restore(c.id), "ADAPTER_TAMPERED");
        expect(swappedRecord.message).toContain(`holds the record of ${a.id}`);
        await expect(archive.restore(a.id)).resolves.toBe(entryFile(a.id, "gguf"));
      });

      it("refuses an entry whose adapter file is gone", async () => {
        const archive = await openArchive();
        const record = await storeOne(archive);
        await rm(entryFile(record.id, "gguf"));
        const error = await expectAppError(archive.restore(record.id), "ADAPTER_TAMPERED");
        expect(error.message).toContain(`${record.id}.gguf is missing`);
      });
    });

    describe("ids", () => {
      it.each(["../../etc/passwd", "lora-20261207-031500-ABCDEF", "lora-20261207-031500-abcdef/../x", ""])(
        "refuses the id %j, naming it",
        async (id) => {
          const archive = await openArchive();
          for (const call of [
            archive.restore(id),
            archive.get(id),
            archive.annotate(id, { status: "retired" }),
          ]) {
            const error = await expectAppError(call, "INVALID_REQUEST");
            expect(error.message).toContain(JSON.stringify(id));
            expect(error.param).toBe("id");
          }
        },
      );
    });

    describe("list", () => {
      it("lists newest first, and a damaged entry as damaged", async () => {
        const archive = await openArchive();
        const middle = await storeOne(archive, { createdAt: t0 - 2 * day });
        const newest = await storeOne(archive, { createdAt: t0 });
        const oldest = await storeOne(archive, { createdAt: t0 - 9 * day });
        const broken = await storeOne(archive, { createdAt: t0 - day });
        await writeFile(entryFile(broken.id, "json"), "{ not json");
        await writeFile(path.join(dir, "notes.txt"), "not an entry");

        const listed = await archive.list();
        expect(listed.map((entry) => entry.id)).toEqual([newest.id, broken.id, middle.id, oldest.id]);
        expect(listed[0]).toEqual(newest);
        expect(listed[1]).toEqual({
          id: broken.id,
          createdAt: t0 - day,
          damaged: `${broken.id}.json is not JSON`,
        });
        await expectAppError(archive.get(broken.id), "ADAPTER_TAMPERED");
      });

      it("is empty for a new archive", async () => {
        expect(await (await openArchive()).list()).toEqual([]);
      });
    });

    describe("annotate", () => {
      it("re-signs the record, so restore still verifies, and merges metrics", async () => {
        const archive = await openArchive();
        const record = await storeOne(archive, { metrics: { loss: 1.5 } });
        const oldSignature = await readFile(entryFile(record.id, "json.asc"), "utf8");

        const promoted = await archive.annotate(record.id, {
          status: "promoted",
          metrics: { winRate: 0.62 },
        });
        expect(promoted).toEqual({ ...record, status: "promoted", metrics: { loss: 1.5, winRate: 0.62 } });
        expect(await readFile(entryFile(record.id, "json.asc"), "utf8")).not.toBe(oldSignature);
        await expect(archive.restore(record.id)).resolves.toBe(entryFile(record.id, "gguf"));

        const reopened = await openArchive();
        expect(await reopened.get(record.id)).toEqual(promoted);
        const retired = await reopened.annotate(record.id, { status: "retired", metrics: { winRate: 0.4 } });
        expect(retired.metrics).toEqual({ loss: 1.5, winRate: 0.4 });
        expect(await reopened.get(record.id)).toEqual(retired);
        await reopened.restore(record.id);
        expect((await stat(entryFile(record.id, "json"))).mode & 0o777).toBe(0o600);
        expect((await stat(entryFile(record.id, "json.asc"))).mode & 0o777).toBe(0o600);
        expect((await readdir(dir)).filter((name) => name.endsWith(".tmp"))).toEqual([]);
      });

      it("refuses a status or metric that is not one, changing nothing", async () => {
        const archive = await openArchive();
        const record = await storeOne(archive);
        const status = await expectAppError(
          archive.annotate(record.id, { status: "live" as AdapterRecord["status"] }),
          "INVALID_REQUEST",
        );
        expect(status.param).toBe("status");
        await expectAppError(
          archive.annotate(record.id, { metrics: { loss: Number.NaN } }),
          "INVALID_REQUEST",
        );
        expect(await archive.get(record.id)).toEqual(record);
      });

      it("says ADAPTER_NOT_FOUND for an unknown id", async () => {
        const archive = await openArchive();
        await expectAppError(
          archive.annotate("lora-20261207-031500-abcdef", { status: "refused" }),
          "ADAPTER_NOT_FOUND",
        );
      });
    });

    describe("rotate", () => {
      it("removes entries older than keepDays by the clock, except the kept ids", async () => {
        let now = t0;
        const archive = await openArchive(() => now);
        const promoted = await storeOne(archive, { createdAt: t0 - 40 * day });
        const before = await storeOne(archive, { createdAt: t0 - 35 * day });
        const stale = await storeOne(archive, { createdAt: t0 - 31 * day });
        const damaged = await storeOne(archive, { createdAt: t0 - 50 * day });
        await rm(entryFile(damaged.id, "json"));
        const recent = await storeOne(archive, { createdAt: t0 - 29 * day });
        const keep = new Set([promoted.id, before.id]);

        expect(await archive.rotate({ keep })).toEqual([stale.id, damaged.id]);
        expect((await archive.list()).map((entry) => entry.id)).toEqual([recent.id, before.id, promoted.id]);
        const names = await readdir(dir);
        expect(names.filter((name) => name.startsWith(stale.id) || name.startsWith(damaged.id))).toEqual([]);
        await archive.restore(promoted.id);

        now = t0 + 2 * day;
        expect(await archive.rotate({ keep })).toEqual([recent.id]);
        expect(await archive.rotate({ keepDays: 100 })).toEqual([]);
        expect(await archive.rotate({ keepDays: 36 })).toEqual([before.id, promoted.id]);
        expect(await archive.list()).toEqual([]);
      });

      it("refuses a negative keepDays", async () => {
        const archive = await openArchive();
        const record = await storeOne(archive);
        await expectAppError(archive.rotate({ keepDays: -1 }), "INVALID_REQUEST");
        expect(await archive.get(record.id)).toEqual(record);
      });
    });
  });
});
