/**
 * The guard's development check across authors: trains on some training files and scores others, which their
 * writers wrote without seeing the first ones — the nearest thing to new text the training split can give, and
 * what to tune on (never the test split).
 *
 *   node --import tsx scripts/guard-dev.ts --train guard-train.jsonl,guard-train-2.jsonl --eval guard-train-4.jsonl
 *
 * Prints detection and false positives per language, technique and benign category, and the ids of the misses
 * (the dev files may be looked at; that is what they are for).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { InjectionGuard, parseGuardCorpus, trainGuardWeights } from "../src/security/index.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const option = (name: string): string[] => {
  const i = args.indexOf(name);
  const value = i === -1 ? undefined : args[i + 1];
  if (value === undefined) throw new Error(`${name} <file,…> is required`);
  return value.split(",");
};
const read = (names: string[]) =>
  names.flatMap((name) => {
    if (name.includes("guard-test")) throw new Error("the test split is for reporting only");
    const file = path.join(root, "bench", "data", name);
    return parseGuardCorpus(readFileSync(file, "utf8"), file);
  });
const train = read(option("--train"));
const evaluate = read(option("--eval"));
const weights = trainGuardWeights(train);
const guard = new InjectionGuard({ weights });

const groups = new Map<string, { n: number; hit: number }>();
const add = (key: string, hit: boolean) => {
  const group = groups.get(key) ?? { n: 0, hit: 0 };
  group.n++;
  if (hit) group.hit++;
  groups.set(key, group);
};
const misses: string[] = [];
for (const example of evaluate) {
  const verdict = guard.check(example.text);
  const hit = verdict.verdict === "attack";
  const kind = example.label === "attack" ? "detect" : "falsePos";
  if (example.source !== "memory" || example.label === "attack") add(`${kind} ${example.lang}`, hit);
  add(`${kind} all`, hit);
  add(`${example.label} ${example.technique}`, hit);
  if (hit !== (example.label === "attack"))
    misses.push(`${example.id} ${example.label} ${example.technique} ${verdict.score.toFixed(3)}`);
}
console.log(`trained on ${train.length}, threshold ${weights.threshold}; evaluated on ${evaluate.length}`);
for (const [key, { n, hit }] of [...groups].sort())
  console.log(`${key.padEnd(40)} ${((100 * hit) / n).toFixed(1).padStart(6)}%  (${hit}/${n})`);
if (args.includes("--misses")) console.log(misses.join("\n"));
