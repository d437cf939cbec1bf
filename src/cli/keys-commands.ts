import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { builtinTemplatesDir, reflectionTemplateFiles } from "../assistant/index.js";
import type { LoadedConfig, ResolvedConfig } from "../config/index.js";
import {
  initSigningKey,
  loadSigningKey,
  loadTrustedKey,
  resolveSigningKeyFiles,
  signFile,
  verifyFile,
} from "../security/index.js";
import { AppError } from "../shared/index.js";
import { UsageError } from "./usage-error.js";

interface PassphraseFlags {
  passphraseFile?: string;
}

/**
 * `sarai keys init|sign|verify`: the OpenPGP key pair that signs prompt templates. Without files, `sign` and
 * `verify` work on the reflection templates the server loads (`reflect.templatesDir`, else the shipped ones).
 */
export function registerKeysCommands(program: Command, loadConfigured: () => LoadedConfig): void {
  const keys = program.command("keys").description("the OpenPGP key that signs prompt templates");
  keys
    .command("init")
    .description("create the signing key pair (once) and print its fingerprint")
    .option("--force", "replace an existing key pair (signatures made by it stop verifying)")
    .option("--passphrase-file <file>", "encrypt the private key with the first line of this file")
    .action(async (flags: PassphraseFlags & { force?: boolean }) => {
      const files = resolveSigningKeyFiles(loadConfigured().config);
      const passphrase = await readPassphrase(flags.passphraseFile);
      const pair = await initSigningKey(files, {
        ...(flags.force === true ? { force: true } : {}),
        ...(passphrase === undefined ? {} : { passphrase }),
      });
      process.stdout.write(
        `fingerprint  ${formatFingerprint(pair.fingerprint)}\n` +
          `private key  ${files.privateKey} (mode 0600${passphrase === undefined ? ", no passphrase" : ""})\n` +
          `public key   ${files.publicKey}\n`,
      );
      process.stderr.write("sarai: sign the prompt templates with `sarai keys sign`\n");
    });
  keys
    .command("sign")
    .description("sign files (default: the reflection templates) into <file>.asc detached signatures")
    .argument("[files...]", "files to sign")
    .option("--passphrase-file <file>", "the private key's passphrase, on the first line of this file")
    .action(async (given: string[], flags: PassphraseFlags) => {
      const config = loadConfigured().config;
      const files = resolveSigningKeyFiles(config);
      const key = await loadSigningKey(files.privateKey, await readPassphrase(flags.passphraseFile));
      for (const file of targetFiles(config, given)) {
        const signature = await signFile(file, key).catch((error: unknown) => {
          throw fileError(file, error);
        });
        process.stdout.write(`signed  ${file} -> ${path.basename(signature)}\n`);
      }
    });
  keys
    .command("verify")
    .description("check the signatures of files (default: the reflection templates); exit 1 if any fails")
    .argument("[files...]", "files to check")
    .option("--json", "print one JSON object per file")
    .action(async (given: string[], flags: { json?: boolean }) => {
      const config = loadConfigured().config;
      const publicKey = resolveSigningKeyFiles(config).publicKey;
      const trusted = await loadTrustedKey(publicKey);
      if (trusted === undefined) {
        throw new AppError(
          "SIGNING_KEY_MISSING",
          `no public key at ${publicKey}; run \`sarai keys init\` first`,
        );
      }
      let failed = 0;
      for (const file of targetFiles(config, given)) {
        const bytes = await readFile(file).catch((error: unknown) => {
          throw fileError(file, error);
        });
        const result = await verifyFile(file, trusted, bytes);
        if (!result.ok) failed += 1;
        if (flags.json === true) {
          const line = result.ok
            ? { file, ok: true, signature: result.signatureFile, fingerprint: result.fingerprint }
            : { file, ok: false, reason: result.reason, message: result.message };
          process.stdout.write(`${JSON.stringify(line)}\n`);
        } else {
          process.stdout.write(result.ok ? `ok      ${file}\n` : `FAILED  ${file}: ${result.message}\n`);
        }
      }
      if (flags.json !== true)
        process.stderr.write(`sarai: trusted key ${formatFingerprint(trusted.fingerprint)}\n`);
      if (failed > 0) {
        process.stderr.write(`sarai: ${failed} signature${failed === 1 ? "" : "s"} did not verify\n`);
        process.exitCode = 1;
      }
    });
}

function targetFiles(config: ResolvedConfig, given: readonly string[]): string[] {
  if (given.length > 0) return given.map((file) => path.resolve(file));
  return reflectionTemplateFiles(config.reflect.templatesDir ?? builtinTemplatesDir);
}

async function readPassphrase(file: string | undefined): Promise<string | undefined> {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new UsageError(`--passphrase-file: cannot read ${file} (${(error as NodeJS.ErrnoException).code})`);
  }
  const passphrase = text.split(/\r?\n/)[0] ?? "";
  if (passphrase === "") throw new UsageError(`--passphrase-file: the first line of ${file} is empty`);
  return passphrase;
}

function fileError(file: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === undefined) return error instanceof Error ? error : new Error(String(error));
  return new UsageError(`${file}: ${code === "ENOENT" ? "no such file" : code}`);
}

/** `D082 2383 D868 …`: the fingerprint in groups of four, as GnuPG prints it. */
function formatFingerprint(fingerprint: string): string {
  return (fingerprint.toUpperCase().match(/.{1,4}/g) ?? []).join(" ");
}
