/**
 * OpenPGP detached signatures (the `openpgp` package) for files SARAi must not trust unsigned: prompt templates.
 * One Ed25519 key pair per installation, made by `sarai keys init`, kept under the state directory; the public
 * half is the trusted key every signature is checked against.
 */
import { randomUUID } from "node:crypto";
import { access, chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import * as openpgp from "openpgp";
import type { ResolvedConfig } from "../config/index.js";
import { AppError } from "../shared/index.js";

/** An armored key pair and the fingerprint of its primary key (40 hex digits). */
export interface SigningKeyPair {
  privateKey: string;
  publicKey: string;
  fingerprint: string;
}

export interface GenerateSigningKeyOptions {
  /** The key's user id. Default: `SARAi prompt templates`. */
  name?: string;
  /** Encrypts the private key; without it the key is stored unencrypted (protected by mode 0600). */
  passphrase?: string;
}

/** Where the key pair lives. */
export interface SigningKeyFiles {
  /** Armored private key, mode 0600. */
  privateKey: string;
  /** Armored public key: the trusted key signatures are checked against. */
  publicKey: string;
}

/** A private key, decrypted, ready to sign. */
export interface SigningKey {
  readonly fingerprint: string;
  readonly key: openpgp.PrivateKey;
}

/** The public key signatures must be made by. */
export interface TrustedKey {
  readonly fingerprint: string;
  readonly key: openpgp.Key;
}

/** Why a signature did not verify. */
export type SignatureFailure = "missing" | "malformed" | "untrusted_key" | "mismatch";

/** The outcome of checking one file's detached signature. */
export type SignatureCheck =
  | { ok: true; signatureFile: string; fingerprint: string }
  | { ok: false; reason: SignatureFailure; message: string; signatureFile?: string };

/** Generates an Ed25519 signing key pair (a v4 key, readable by GnuPG). */
export async function generateSigningKey(options: GenerateSigningKeyOptions = {}): Promise<SigningKeyPair> {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: "ecc",
    curve: "ed25519Legacy",
    userIDs: [{ name: options.name ?? "SARAi prompt templates" }],
    format: "armored",
    ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
  });
  const fingerprint = (await openpgp.readKey({ armoredKey: publicKey })).getFingerprint();
  return { privateKey, publicKey, fingerprint };
}

/**
 * The key files from `security.signatures`, by default `<stateDir>/keys/signing-key.asc` and
 * `<stateDir>/keys/signing-key.pub.asc`.
 */
export function resolveSigningKeyFiles(config: ResolvedConfig): SigningKeyFiles {
  const dir = path.join(config.paths.stateDir, "keys");
  const settings = config.security.signatures;
  return {
    privateKey: settings.privateKey ?? path.join(dir, "signing-key.asc"),
    publicKey: settings.publicKey ?? path.join(dir, "signing-key.pub.asc"),
  };
}

export interface InitSigningKeyOptions extends GenerateSigningKeyOptions {
  /** Replace an existing key pair (signatures made by the old key stop verifying). Default: `false`. */
  force?: boolean;
}

/**
 * Creates the key pair once: the private key with mode 0600 (its folder 0700), the public key beside it. An
 * existing key is `SIGNING_KEY_EXISTS` unless `force`. Each file is written whole or not at all.
 */
export async function initSigningKey(
  files: SigningKeyFiles,
  options: InitSigningKeyOptions = {},
): Promise<SigningKeyPair> {
  if (options.force !== true) {
    for (const file of [files.privateKey, files.publicKey]) {
      if (await exists(file)) {
        throw new AppError(
          "SIGNING_KEY_EXISTS",
          `a key already exists at ${file}; give --force to replace it (signatures made by it will stop verifying)`,
          { param: file },
        );
      }
    }
  }
  const pair = await generateSigningKey(options);
  await mkdir(path.dirname(files.privateKey), { recursive: true, mode: 0o700 });
  await mkdir(path.dirname(files.publicKey), { recursive: true, mode: 0o700 });
  await writeAtomically(files.privateKey, pair.privateKey, 0o600);
  await writeAtomically(files.publicKey, pair.publicKey, 0o644);
  return pair;
}

/** Reads and, with its passphrase, decrypts the private key. */
export async function loadSigningKey(file: string, passphrase?: string): Promise<SigningKey> {
  const armored = await readKeyFile(file, "signing key");
  let key: openpgp.PrivateKey;
  try {
    key = await openpgp.readPrivateKey({ armoredKey: armored });
  } catch (error) {
    throw invalidKey(file, `not an OpenPGP private key (${describe(error)})`, error);
  }
  if (!key.isDecrypted()) {
    if (passphrase === undefined) {
      throw invalidKey(file, "the key is protected by a passphrase; give --passphrase-file");
    }
    try {
      key = await openpgp.decryptKey({ privateKey: key, passphrase });
    } catch (error) {
      throw invalidKey(file, "the passphrase does not unlock the key", error);
    }
  }
  return { fingerprint: key.getFingerprint(), key };
}

/** Reads the trusted public key; undefined when the file does not exist (no key has been made yet). */
export async function loadTrustedKey(file: string): Promise<TrustedKey | undefined> {
  let armored: string;
  try {
    armored = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw invalidKey(file, `cannot read it (${describe(error)})`, error);
  }
  try {
    const key = await openpgp.readKey({ armoredKey: armored });
    // Only the public half is trusted: a private key given here is reduced to its public key.
    const publicKey = key.isPrivate() ? key.toPublic() : key;
    return { fingerprint: publicKey.getFingerprint(), key: publicKey };
  } catch (error) {
    throw invalidKey(file, `not an OpenPGP public key (${describe(error)})`, error);
  }
}

/** The armored detached signature `signFile` writes: `<file>.asc`. */
export function signatureFileFor(file: string): string {
  return `${file}.asc`;
}

/** Signs a file's exact bytes and writes the armored detached signature to `<file>.asc`; returns that path. */
export async function signFile(file: string, signingKey: SigningKey): Promise<string> {
  const bytes = await readFile(file);
  // openpgp's return type is conditional on web stream types this Node build does not load: for bytes in, it
  // is the armored text.
  const signature = (await openpgp.sign({
    message: await openpgp.createMessage({ binary: new Uint8Array(bytes) }),
    signingKeys: signingKey.key,
    detached: true,
    format: "armored",
  })) as string;
  const target = signatureFileFor(file);
  await writeAtomically(target, signature, 0o644);
  return target;
}

/**
 * Checks the detached signature of `file` (`<file>.asc`, armored, else `<file>.sig`, binary) against the trusted
 * key. Pass `bytes` when the caller has read the file already: the bytes checked are then exactly the bytes used.
 */
export async function verifyFile(
  file: string,
  trusted: TrustedKey,
  bytes?: Uint8Array,
): Promise<SignatureCheck> {
  const found = await readSignatureFile(file);
  if (found === undefined) {
    return {
      ok: false,
      reason: "missing",
      message: `no signature (${signatureFileFor(file)} or ${file}.sig); sign it with \`sarai keys sign\``,
    };
  }
  const content = bytes ?? (await readFile(file));
  const result = await verifyBytes(content, found.signature, trusted);
  return result.ok
    ? { ...result, signatureFile: found.file }
    : { ...result, signatureFile: found.file, message: `${path.basename(found.file)}: ${result.message}` };
}

/** Checks a detached signature (armored text or binary bytes) over `bytes` against the trusted key. */
export async function verifyBytes(
  bytes: Uint8Array,
  signature: string | Uint8Array,
  trusted: TrustedKey,
): Promise<{ ok: true; fingerprint: string } | { ok: false; reason: SignatureFailure; message: string }> {
  let parsed: openpgp.Signature;
  try {
    parsed =
      typeof signature === "string"
        ? await openpgp.readSignature({ armoredSignature: signature })
        : await openpgp.readSignature({ binarySignature: signature });
  } catch (error) {
    return { ok: false, reason: "malformed", message: `not an OpenPGP signature (${describe(error)})` };
  }
  const signers = parsed.getSigningKeyIDs().map((id) => id.toHex());
  const trustedIds = new Set([trusted.key, ...trusted.key.subkeys].map((key) => key.getKeyID().toHex()));
  if (!signers.some((id) => trustedIds.has(id))) {
    return {
      ok: false,
      reason: "untrusted_key",
      message: `signed by another key (${signers.join(", ") || "none named"}), not the trusted key ${trusted.fingerprint}`,
    };
  }
  const result = await openpgp.verify({
    message: await openpgp.createMessage({ binary: bytes }),
    signature: parsed,
    verificationKeys: trusted.key,
  });
  for (const entry of result.signatures) {
    try {
      await entry.verified;
      return { ok: true, fingerprint: trusted.fingerprint };
    } catch {
      // Another signature in the file may still verify.
    }
  }
  return {
    ok: false,
    reason: "mismatch",
    message: "the signature does not match the file's content (the file was changed after it was signed)",
  };
}

/** How a template file may be used. */
export type TemplateTrust = "verified" | "unsigned" | "unchecked";

/** The verdict on one template file: used (maybe with a warning) or refused with the reason. */
export type TemplateCheck =
  { use: true; trust: TemplateTrust; warning?: string } | { use: false; reason: string };

/** Decides whether a template file may be used, by `security.signatures`. */
export interface TemplateVerifier {
  /** Checks `bytes`, read from `file`, against the signature beside it. */
  check(file: string, bytes: Uint8Array): Promise<TemplateCheck>;
}

export interface TemplateVerifierOptions {
  /** `security.signatures.enabled`: off, every template is used unchecked. */
  enabled: boolean;
  /** `security.signatures.required`: refuse templates even before a key exists. */
  required: boolean;
  /** The trusted public key; a missing file means no key has been made yet. */
  publicKeyFile: string;
}

/**
 * The template policy. Signatures off: every template is used. No key yet (`sarai keys init` not run): templates
 * are used with a warning, unless `required`. A key exists: a template is used only when its signature by that
 * key verifies. An unreadable public key refuses every template (fails closed).
 */
export async function createTemplateVerifier(options: TemplateVerifierOptions): Promise<TemplateVerifier> {
  if (!options.enabled) return { check: () => Promise.resolve({ use: true, trust: "unchecked" }) };
  let trusted: TrustedKey | undefined;
  try {
    trusted = await loadTrustedKey(options.publicKeyFile);
  } catch (error) {
    const reason = `the trusted public key is unusable: ${(error as Error).message}`;
    return { check: () => Promise.resolve({ use: false, reason }) };
  }
  if (trusted === undefined) {
    const check: TemplateCheck = options.required
      ? {
          use: false,
          reason:
            "security.signatures.required is on and there is no signing key yet (run `sarai keys init`, then `sarai keys sign`)",
        }
      : {
          use: true,
          trust: "unsigned",
          warning:
            "not verified: there is no signing key yet (run `sarai keys init`, then `sarai keys sign`)",
        };
    return { check: () => Promise.resolve(check) };
  }
  const key = trusted;
  return {
    async check(file, bytes) {
      const result = await verifyFile(file, key, bytes);
      return result.ok ? { use: true, trust: "verified" } : { use: false, reason: result.message };
    },
  };
}

async function readSignatureFile(
  file: string,
): Promise<{ file: string; signature: string | Uint8Array } | undefined> {
  const armored = signatureFileFor(file);
  try {
    return { file: armored, signature: await readFile(armored, "utf8") };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const binary = `${file}.sig`;
  try {
    return { file: binary, signature: new Uint8Array(await readFile(binary)) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  return undefined;
}

async function readKeyFile(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new AppError("SIGNING_KEY_MISSING", `no ${what} at ${file}; run \`sarai keys init\` first`, {
        param: file,
        cause: error,
      });
    }
    throw invalidKey(file, `cannot read it (${describe(error)})`, error);
  }
}

/** Writes a temporary file beside `file` with `mode`, then renames it over: never a half-written key. */
async function writeAtomically(file: string, text: string, mode: number): Promise<void> {
  const temporary = `${file}.${randomUUID()}.tmp`;
  try {
    await writeFile(temporary, text, { mode, flag: "wx" });
    // The umask may have taken bits away, never added any; chmod makes the mode exact.
    await chmod(temporary, mode);
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ENOENT";
  }
}

function invalidKey(file: string, why: string, cause?: unknown): AppError {
  return new AppError("SIGNING_KEY_INVALID", `${file}: ${why}`, {
    param: file,
    ...(cause === undefined ? {} : { cause }),
  });
}

function describe(error: unknown): string {
  if (error instanceof Error) return (error as NodeJS.ErrnoException).code ?? error.message;
  return String(error);
}
