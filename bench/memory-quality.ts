/**
 * Memory extraction on text nobody tuned it to: precision, recall and F1 of the rule extractor on the
 * held-out split (bench/data/memory-quality-test.jsonl, default) or the dev split, per language and per
 * phenomenon, and how often an utterance that states nothing yields a fact. Baseline measured in the same run:
 * the same extractor on memory-facts.jsonl, the set its rules were written against (the gap is the
 * over-fitting).
 *
 *   npm run bench -- memory-quality [--split test|dev] [--misses]
 *
 * Prints aggregates only: the test split is for reporting, never for tuning. `--misses` (dev split only)
 * also prints each dev utterance with an error: its text, the facts missed and the spurious ones.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  extractFacts,
  factKey,
  parseLabelledSet,
  relationFactKey,
  scoreExtraction,
  type ExtractionScore,
  type LabelledUtterance,
} from "../src/memory/index.js";
import { formatTable } from "./_stats.js";

const usage = "usage: npm run bench -- memory-quality [--split test|dev] [--misses]";
const here = path.dirname(fileURLToPath(import.meta.url));
const percent = (value: number) => `${(value * 100).toFixed(1)}%`;

function load(name: string): LabelledUtterance[] {
  const file = path.join(here, "data", name);
  if (!existsSync(file)) throw new Error(`${file} is missing (see bench/data/memory-quality-README.md)`);
  return parseLabelledSet(readFileSync(file, "utf8"), file);
}

const rules = (text: string, lang: LabelledUtterance["lang"]) => extractFacts(text, lang);

function row(label: string, items: readonly LabelledUtterance[], key = factKey): string[] {
  const score: ExtractionScore = scoreExtraction(items, rules, key);
  const facts = items.reduce((sum, item) => sum + item.facts.length, 0);
  return [
    label,
    String(items.length),
    String(facts),
    percent(score.precision),
    percent(score.recall),
    percent(score.f1),
  ];
}

export default function memoryQuality(args: string[]): Promise<void> {
  report(args);
  return Promise.resolve();
}

/** The options of the bench, checked before any data is read: `--misses` is refused on the held-out split. */
export function parseOptions(args: readonly string[]): { split: "test" | "dev"; misses: boolean } {
  let split = "test";
  let misses = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--split") split = args[++i] ?? "";
    else if (args[i] === "--misses") misses = true;
    else throw new Error(`unknown option ${args[i] ?? ""}\n${usage}`);
  }
  if (split !== "test" && split !== "dev") throw new Error(`--split: test or dev\n${usage}`);
  // The held-out split is never looked at item by item: a per-utterance listing would be tuning material.
  if (misses && split !== "dev")
    throw new Error(
      `--misses is only allowed with --split dev: the ${split} split is held out, look at no item's result\n${usage}`,
    );
  return { split, misses };
}

function report(args: string[]): void {
  const { split, misses } = parseOptions(args);
  const items = load(`memory-quality-${split}.jsonl`);
  const tuned = load("memory-facts.jsonl");
  console.log(`\nrule extractor on memory-quality-${split}.jsonl (${items.length} utterances)`);
  const header = ["set", "utterances", "facts", "precision", "recall", "F1"];

  console.log("\n## (subject, object, polarity); relation not scored");
  console.log(
    formatTable(header, [
      row(
        "es",
        items.filter((item) => item.lang === "es"),
      ),
      row(
        "en",
        items.filter((item) => item.lang === "en"),
      ),
      row(`all (${split})`, items),
      row("baseline: memory-facts.jsonl (tuned on)", tuned),
    ]),
  );

  console.log("\n## strict: (subject, relation, object, polarity)");
  console.log(
    formatTable(header, [
      row(
        "es",
        items.filter((item) => item.lang === "es"),
        relationFactKey,
      ),
      row(
        "en",
        items.filter((item) => item.lang === "en"),
        relationFactKey,
      ),
      row(`all (${split})`, items, relationFactKey),
      row("baseline: memory-facts.jsonl (tuned on)", tuned, relationFactKey),
    ]),
  );

  const phenomena = [...new Set(items.flatMap((item) => item.phenomena ?? []))].sort();
  console.log("\n## per phenomenon (relation not scored)");
  console.log(
    formatTable(
      header,
      phenomena.map((name) =>
        row(
          name,
          items.filter((item) => item.phenomena?.includes(name) === true),
        ),
      ),
    ),
  );

  const empty = items.filter((item) => item.facts.length === 0);
  const spurious = scoreExtraction(empty, rules).spuriousOnEmpty;
  const overall = scoreExtraction(items, rules);
  const base = scoreExtraction(tuned, rules);
  console.log(
    `\nutterances that state nothing: ${empty.length}, of which ${spurious} (${percent(spurious / Math.max(1, empty.length))}) yielded a fact`,
  );
  console.log(
    `recall ratio held-out / tuned-on: ${(overall.recall / Math.max(1e-9, base.recall)).toFixed(2)}×, ` +
      `precision ratio: ${(overall.precision / Math.max(1e-9, base.precision)).toFixed(2)}×`,
  );
  if (misses) printMisses(items, overall);
}

/** Each dev utterance with an error: the text, the facts missed and the spurious ones (scoring keys). */
function printMisses(items: readonly LabelledUtterance[], score: ExtractionScore): void {
  const langOf = new Map(items.map((item) => [item.id, item.lang]));
  console.log(`\n## misses: ${score.misses.length} utterances with an error (relation not scored)`);
  for (const miss of score.misses) {
    console.log(`\n[${miss.id}] (${langOf.get(miss.id) ?? "?"}) ${miss.text}`);
    for (const key of miss.missing) console.log(`  - missed:   ${key}`);
    for (const key of miss.extra) console.log(`  + spurious: ${key}`);
  }
}
