/**
 * Fixtures for the self-repair tests: repair actions that do nothing, and for signed patches a throwaway git
 * install with a test script, signing keys and signed diffs.
 */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import path from "node:path";
import type { RepairActions } from "../src/repair/index.js";
import { generateSigningKey, loadSigningKey, signFile, type SigningKey } from "../src/security/index.js";

/** Repair actions that succeed without touching anything; the main model was trained on 32768 tokens. */
export const idleRepairActions: RepairActions = {
  unloadIdleModels: () => Promise.resolve("no model was idle"),
  freeDisk: () => Promise.resolve("freed 0 MiB"),
  restartLoop: () => Promise.resolve("restarted"),
  reloadModel: () => Promise.resolve("reloaded"),
  trainedContext: () => 32_768,
};

/** The install's test (`node check.mjs`): prints what it saw, fails on "bad", hangs on "hang". */
export const checkScript = `import { readFileSync } from "node:fs";
const value = readFileSync("value.txt", "utf8").trim();
console.log("value=" + value + " args=" + process.argv.slice(2).join(","));
if (value === "hang") setInterval(() => {}, 1000);
else if (value === "bad") { console.error("check: value is bad"); process.exit(1); }
`;

/** Runs git in `cwd` with a committer identity; returns its stdout. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-C", cwd, "-c", "user.name=t", "-c", "user.email=t@example.com", ...args], {
    encoding: "utf8",
  });
}

/** A git diff that changes the one-line `file` from `from` to `to`. */
export function modify(file: string, from: string, to: string): string {
  return `diff --git a/${file} b/${file}\n--- a/${file}\n+++ b/${file}\n@@ -1 +1 @@\n-${from}\n+${to}\n`;
}

/** The steps of a patch that was applied, with their `ok`. */
export const appliedSteps: readonly (readonly [string, boolean])[] = [
  ["verify", true],
  ["parse", true],
  ["worktree", true],
  ["test", true],
  ["cleanup", true],
  ["switch", true],
  ["health", true],
];

/**
 * Makes `dir` (which must not exist) an install: a git checkout of `value.txt` = "1", `check.mjs` and `files`
 * (name → text), all committed.
 */
export async function createGitInstall(
  dir: string,
  files: Readonly<Record<string, string>> = {},
): Promise<void> {
  await mkdir(dir);
  await writeFile(path.join(dir, "value.txt"), "1\n");
  await writeFile(path.join(dir, "check.mjs"), checkScript);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  git(dir, "init", "-q", "-b", "main");
  git(dir, "add", ".");
  git(dir, "commit", "-q", "-m", "init");
}

export interface PatchKeys {
  /** The trusted key's signer. */
  signer: SigningKey;
  /** A key nobody trusts ("someone else"). */
  otherSigner: SigningKey;
  /** The trusted public key (`<dir>/key.pub.asc`), for `security.signatures.publicKey`. */
  publicKeyFile: string;
}

/** Two signing keys in `dir`: `key.asc` (trusted, its public half in `key.pub.asc`) and `other.asc`. */
export async function createPatchKeys(dir: string): Promise<PatchKeys> {
  const pair = await generateSigningKey();
  const other = await generateSigningKey({ name: "someone else" });
  await writeFile(path.join(dir, "key.asc"), pair.privateKey);
  await writeFile(path.join(dir, "other.asc"), other.privateKey);
  const publicKeyFile = path.join(dir, "key.pub.asc");
  await writeFile(publicKeyFile, pair.publicKey);
  return {
    signer: await loadSigningKey(path.join(dir, "key.asc")),
    otherSigner: await loadSigningKey(path.join(dir, "other.asc")),
    publicKeyFile,
  };
}

/**
 * Writes `diff` as `fix.diff` in a new folder under `parent` and signs it with `key` (`fix.diff.asc`; none when
 * `key` is null); returns the diff's path.
 */
export async function writeSignedPatch(
  parent: string,
  diff: string,
  key: SigningKey | null,
): Promise<string> {
  const dir = await mkdtemp(path.join(parent, "patch-"));
  const file = path.join(dir, "fix.diff");
  await writeFile(file, diff);
  if (key !== null) await signFile(file, key);
  return file;
}
