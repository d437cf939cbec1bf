/**
 * Trains the injection guard's scorer on bench/data/guard-train.jsonl and writes src/security/guard-weights.json.
 * Deterministic: the same corpus gives the same file. The threshold is the lowest out-of-fold score that keeps
 * false positives at or under `--max-fpr` (default 3%) of the training corpus's benign texts.
 *
 *   npm run train:guard [-- --check]   # --check: fail if the shipped weights differ from a fresh training
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseGuardCorpus, trainGuardWeights } from "../src/security/index.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const corpusFile = path.join(root, "bench", "data", "guard-train.jsonl");
const weightsFile = path.join(root, "src", "security", "guard-weights.json");
const args = process.argv.slice(2);
const maxFprArg = args.indexOf("--max-fpr");
const maxFpr = maxFprArg === -1 ? 0.03 : Number(args[maxFprArg + 1]);

const text = readFileSync(corpusFile, "utf8");
const corpus = parseGuardCorpus(text, corpusFile);
const weights = trainGuardWeights(corpus, {
  maxFalsePositiveRate: maxFpr,
  corpusName: "bench/data/guard-train.jsonl",
  corpusSha256: createHash("sha256").update(text).digest("hex"),
});
const output = `${JSON.stringify(weights)}\n`;
const summary = weights.trainedOn;
console.log(
  `trained on ${String(summary["examples"])} texts (${String(summary["attacks"])} attacks): ` +
    `threshold ${weights.threshold}, out-of-fold recall ${String(summary["outOfFoldRecall"])}, ` +
    `false positives ${String(summary["outOfFoldFalsePositiveRate"])}`,
);
if (args.includes("--check")) {
  const shipped = readFileSync(weightsFile, "utf8");
  if (shipped !== output) {
    console.error("src/security/guard-weights.json is not what the corpus trains: run npm run train:guard");
    process.exit(1);
  }
  console.log("shipped weights match a fresh training");
} else {
  writeFileSync(weightsFile, output);
  console.log(`wrote ${path.relative(root, weightsFile)}`);
}
