/**
 * Trains the injection guard's scorer on every bench/data/guard-train*.jsonl file (in name order) and writes
 * src/security/guard-weights.json. Deterministic: the same corpus gives the same file. The threshold is the lowest
 * out-of-fold score that keeps false positives at or under `--max-fpr` (default 3%) of each language's benign texts
 * (stored facts left out). Prints the out-of-fold figures per language, technique and benign category.
 *
 *   npm run train:guard [-- --check]   # --check: fail if the shipped weights differ from a fresh training
 */
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseGuardCorpus, trainGuardWeights } from "../src/security/index.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dataDir = path.join(root, "bench", "data");
const corpusFiles = readdirSync(dataDir)
  .filter((name) => /^guard-train.*\.jsonl$/.test(name))
  .sort((a, b) => a.replace(/\.jsonl$/, "").localeCompare(b.replace(/\.jsonl$/, "")));
const weightsFile = path.join(root, "src", "security", "guard-weights.json");
const args = process.argv.slice(2);
const maxFprArg = args.indexOf("--max-fpr");
const maxFpr = maxFprArg === -1 ? 0.03 : Number(args[maxFprArg + 1]);

const hash = createHash("sha256");
const corpus = corpusFiles.flatMap((name) => {
  const text = readFileSync(path.join(dataDir, name), "utf8");
  hash.update(`${name}\n`).update(text);
  return parseGuardCorpus(text, `bench/data/${name}`);
});
const weights = trainGuardWeights(corpus, {
  maxFalsePositiveRate: maxFpr,
  corpusName: corpusFiles.map((name) => `bench/data/${name}`).join(", "),
  corpusSha256: hash.digest("hex"),
});
const output = `${JSON.stringify(weights)}\n`;
const summary = weights.trainedOn;
console.log(
  `trained on ${String(summary["examples"])} texts (${String(summary["attacks"])} attacks) from ${corpusFiles.join(", ")}: ` +
    `threshold ${weights.threshold}, out-of-fold recall ${String(summary["outOfFoldRecall"])}, ` +
    `false positives ${String(summary["outOfFoldFalsePositiveRate"])}, ${weights.decisiveRules.length} decisive rules`,
);
console.log(`out of fold per language: ${JSON.stringify(summary["outOfFoldByLanguage"])}`);
console.log(`out of fold per technique (recall) and benign category (false positives):`);
for (const [technique, rate] of Object.entries(summary["outOfFoldByTechnique"] as Record<string, number>))
  console.log(`  ${technique.padEnd(26)} ${(100 * rate).toFixed(1)}%`);
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
