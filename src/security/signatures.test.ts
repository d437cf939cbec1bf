import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as openpgp from "openpgp";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AppError } from "../shared/index.js";
import {
  createTemplateVerifier,
  generateSigningKey,
  initSigningKey,
  loadSigningKey,
  loadTrustedKey,
  signatureFileFor,
  signFile,
  verifyFile,
  type SigningKeyFiles,
  type TrustedKey,
} from "./signatures.js";

let dir: string;
let files: SigningKeyFiles;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "sarai-signatures-"));
  files = {
    privateKey: path.join(dir, "keys", "signing-key.asc"),
    publicKey: path.join(dir, "keys", "signing-key.pub.asc"),
  };
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function expectAppError(promise: Promise<unknown>, code: string): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
  return error as AppError;
}

/** A template file, signed by a fresh key; returns the file and the trusted key. */
async function signedTemplate(text = "Critique {{question}} {{answer}} {{issues}}\n") {
  const pair = await initSigningKey(files);
  const file = path.join(dir, "critique.md");
  await writeFile(file, text);
  await signFile(file, await loadSigningKey(files.privateKey));
  const trusted = (await loadTrustedKey(files.publicKey)) as TrustedKey;
  return { file, trusted, pair };
}

describe("signatures", () => {
  describe("generateSigningKey", () => {
    it("makes an Ed25519 key pair without a passphrase, and its fingerprint", async () => {
      const pair = await generateSigningKey();
      expect(pair.fingerprint).toMatch(/^[0-9a-f]{40}$/);
      expect(pair.privateKey).toMatch(/^-----BEGIN PGP PRIVATE KEY BLOCK-----/);
      const key = await openpgp.readPrivateKey({ armoredKey: pair.privateKey });
      expect(key.isDecrypted()).toBe(true);
      expect(key.getAlgorithmInfo()).toMatchObject({ algorithm: "eddsaLegacy", curve: "ed25519Legacy" });
      expect(key.getFingerprint()).toBe(pair.fingerprint);
    });

    it("encrypts the private key when given a passphrase", async () => {
      const pair = await generateSigningKey({ passphrase: "correct horse" });
      const key = await openpgp.readPrivateKey({ armoredKey: pair.privateKey });
      expect(key.isDecrypted()).toBe(false);
    });
  });

  describe("initSigningKey", () => {
    it("writes the private key with mode 0600 in a 0700 folder, and the public key beside it", async () => {
      const pair = await initSigningKey(files);
      expect((await stat(files.privateKey)).mode & 0o777).toBe(0o600);
      expect((await stat(path.dirname(files.privateKey))).mode & 0o777).toBe(0o700);
      const trusted = await loadTrustedKey(files.publicKey);
      expect(trusted?.fingerprint).toBe(pair.fingerprint);
      expect(await readFile(files.publicKey, "utf8")).not.toMatch(/PRIVATE KEY/);
    });

    it("refuses to replace an existing key unless forced", async () => {
      const first = await initSigningKey(files);
      const error = await expectAppError(initSigningKey(files), "SIGNING_KEY_EXISTS");
      expect(error.message).toContain(files.privateKey);
      expect((await loadTrustedKey(files.publicKey))?.fingerprint).toBe(first.fingerprint);
      const second = await initSigningKey(files, { force: true });
      expect(second.fingerprint).not.toBe(first.fingerprint);
      expect((await loadTrustedKey(files.publicKey))?.fingerprint).toBe(second.fingerprint);
      expect((await stat(files.privateKey)).mode & 0o777).toBe(0o600);
    });
  });

  describe("loadSigningKey", () => {
    it("names a missing key and says to run sarai keys init", async () => {
      const error = await expectAppError(loadSigningKey(files.privateKey), "SIGNING_KEY_MISSING");
      expect(error.message).toMatch(/sarai keys init/);
    });

    it("needs the right passphrase for an encrypted key", async () => {
      await initSigningKey(files, { passphrase: "correct horse" });
      const missing = await expectAppError(loadSigningKey(files.privateKey), "SIGNING_KEY_INVALID");
      expect(missing.message).toMatch(/passphrase/);
      await expectAppError(loadSigningKey(files.privateKey, "wrong"), "SIGNING_KEY_INVALID");
      const key = await loadSigningKey(files.privateKey, "correct horse");
      expect(key.key.isDecrypted()).toBe(true);
    });

    it("refuses a file that is not a key", async () => {
      await writeFile(path.join(dir, "junk.asc"), "not a key");
      await expectAppError(loadSigningKey(path.join(dir, "junk.asc")), "SIGNING_KEY_INVALID");
      await expectAppError(loadTrustedKey(path.join(dir, "junk.asc")), "SIGNING_KEY_INVALID");
      expect(await loadTrustedKey(path.join(dir, "none.asc"))).toBeUndefined();
    });
  });

  describe("signFile and verifyFile", () => {
    it("round-trips: the signature written to <file>.asc verifies against the public key", async () => {
      const { file, trusted, pair } = await signedTemplate();
      expect(await readFile(signatureFileFor(file), "utf8")).toMatch(/^-----BEGIN PGP SIGNATURE-----/);
      const result = await verifyFile(file, trusted);
      expect(result).toEqual({ ok: true, signatureFile: `${file}.asc`, fingerprint: pair.fingerprint });
    });

    it("rejects a one-byte edit of the file", async () => {
      const { file, trusted } = await signedTemplate();
      const bytes = await readFile(file);
      bytes[0] = (bytes[0] as number) ^ 0x01;
      await writeFile(file, bytes);
      const result = await verifyFile(file, trusted);
      expect(result).toMatchObject({ ok: false, reason: "mismatch" });
      if (!result.ok) expect(result.message).toMatch(/changed after it was signed/);
    });

    it("checks the bytes it is given, not the file as it is now", async () => {
      const { file, trusted } = await signedTemplate();
      const edited = Buffer.from("Critique {{question}} {{answer}} {{issues}}!\n");
      expect(await verifyFile(file, trusted, edited)).toMatchObject({ ok: false, reason: "mismatch" });
    });

    it("rejects a signature made by another key", async () => {
      const { file, trusted } = await signedTemplate();
      const other = await generateSigningKey({ name: "someone else" });
      const otherKey = await openpgp.readPrivateKey({ armoredKey: other.privateKey });
      await signFile(file, { fingerprint: other.fingerprint, key: otherKey });
      const result = await verifyFile(file, trusted);
      expect(result).toMatchObject({ ok: false, reason: "untrusted_key" });
      if (!result.ok) expect(result.message).toContain(trusted.fingerprint);
    });

    it("reports a missing and a malformed signature", async () => {
      const { file, trusted } = await signedTemplate();
      await writeFile(signatureFileFor(file), "-----BEGIN PGP SIGNATURE-----\n\ngarbage\n");
      expect(await verifyFile(file, trusted)).toMatchObject({ ok: false, reason: "malformed" });
      await rm(signatureFileFor(file));
      const missing = await verifyFile(file, trusted);
      expect(missing).toMatchObject({ ok: false, reason: "missing" });
      if (!missing.ok) expect(missing.message).toMatch(/sarai keys sign/);
    });

    it("accepts a binary <file>.sig (gpg --detach-sign)", async () => {
      const { file, trusted } = await signedTemplate();
      const armored = await readFile(signatureFileFor(file), "utf8");
      const signature = await openpgp.readSignature({ armoredSignature: armored });
      await writeFile(`${file}.sig`, signature.write() as Uint8Array);
      await rm(signatureFileFor(file));
      expect(await verifyFile(file, trusted)).toMatchObject({ ok: true, signatureFile: `${file}.sig` });
    });
  });

  describe("createTemplateVerifier", () => {
    const bytesOf = (file: string) => readFile(file);

    it("uses every template unchecked when signatures are off", async () => {
      const verifier = await createTemplateVerifier({
        enabled: false,
        required: true,
        publicKeyFile: files.publicKey,
      });
      expect(await verifier.check("x.md", Buffer.from("x"))).toEqual({ use: true, trust: "unchecked" });
    });

    it("before any key: uses templates with a warning, or refuses them when required", async () => {
      const lenient = await createTemplateVerifier({
        enabled: true,
        required: false,
        publicKeyFile: files.publicKey,
      });
      const used = await lenient.check("x.md", Buffer.from("x"));
      expect(used).toMatchObject({ use: true, trust: "unsigned" });
      expect(used.use && used.warning).toMatch(/no signing key yet.*sarai keys init/);
      const strict = await createTemplateVerifier({
        enabled: true,
        required: true,
        publicKeyFile: files.publicKey,
      });
      const refused = await strict.check("x.md", Buffer.from("x"));
      expect(refused).toMatchObject({ use: false });
      expect(!refused.use && refused.reason).toMatch(/security\.signatures\.required/);
    });

    it("with a key: uses a verified template and refuses an edited or unsigned one", async () => {
      const { file } = await signedTemplate();
      const verifier = await createTemplateVerifier({
        enabled: true,
        required: false,
        publicKeyFile: files.publicKey,
      });
      expect(await verifier.check(file, await bytesOf(file))).toEqual({ use: true, trust: "verified" });
      const edited = await verifier.check(file, Buffer.from("Critique {{question}}\n"));
      expect(edited.use).toBe(false);
      expect(!edited.use && edited.reason).toMatch(/does not match/);
      const unsigned = path.join(dir, "assess.md");
      await writeFile(unsigned, "Assess {{question}} {{answer}}\n");
      const missing = await verifier.check(unsigned, await bytesOf(unsigned));
      expect(!missing.use && missing.reason).toMatch(/no signature/);
    });

    it("fails closed when the public key file cannot be read as a key", async () => {
      await writeFile(path.join(dir, "broken.pub.asc"), "not a key");
      const verifier = await createTemplateVerifier({
        enabled: true,
        required: false,
        publicKeyFile: path.join(dir, "broken.pub.asc"),
      });
      const check = await verifier.check("x.md", Buffer.from("x"));
      expect(!check.use && check.reason).toMatch(/trusted public key is unusable/);
    });
  });
});
