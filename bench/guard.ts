/**
 * The prompt-injection guard on a labelled corpus (default: the held-out test split, bench/data/guard-test.jsonl;
 * `--split train`: every bench/data/guard-train*.jsonl file, which the weights were trained on, so a sanity check only):
 * detection (share of attacks caught) and false positives (share of benign texts flagged), per language, per
 * attack technique and per benign category, and microseconds per check. Baselines measured in the same run: a
 * keyword filter on the raw text (what a blocklist does) and the guard's normaliser and rules without the scorer.
 *
 *   npm run bench -- guard [--split test|train] [--passes n]
 *   npm run bench -- guard --train <file,…> --eval <file,…> [--misses]
 *
 * Prints only aggregate figures: the test split is for reporting, never for tuning. The second form is the
 * development check across writers: it trains the scorer on some training files and scores others, written by
 * people who had not seen the first ones — the nearest thing to new text the training split gives, and what to tune
 * on. It refuses the test split, and `--misses` lists the ids it gets wrong (dev files may be looked at).
 */
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  InjectionGuard,
  matchGuardRules,
  normalizeForGuard,
  parseGuardCorpus,
  trainGuardWeights,
  type GuardExample,
} from "../src/security/index.js";
import { formatTable, parseIntegerOption, summarize } from "./_stats.js";

const usage =
  "usage: npm run bench -- guard [--split test|train] [--passes n]\n" +
  "       npm run bench -- guard --train <file,…> --eval <file,…> [--misses] [--passes n]";
const here = path.dirname(fileURLToPath(import.meta.url));

/** A blocklist of the phrases every injection tutorial starts with, matched on the raw text. */
const keywords =
  /ignore (?:all )?(?:the )?(?:previous|prior|above) instructions|disregard (?:all )?(?:previous|prior) instructions|system prompt|jailbreak|\bDAN\b|ignora (?:todas )?(?:las )?instrucciones (?:anteriores|previas)|olvida (?:todas )?tus instrucciones|prompt del sistema/iu;

type Detector = (text: string) => boolean;

interface Counts {
  attacks: number;
  caught: number;
  benign: number;
  flagged: number;
}

export default async function guardBench(args: string[]): Promise<void> {
  let split = "test";
  let passes = 3;
  let trainFiles: string[] | undefined;
  let evalFiles: string[] | undefined;
  let misses = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--split") split = args[++i] ?? "";
    else if (arg === "--passes") passes = parseIntegerOption("--passes", args[++i] ?? "", 1, usage);
    else if (arg === "--train") trainFiles = fileList("--train", args[++i]);
    else if (arg === "--eval") evalFiles = fileList("--eval", args[++i]);
    else if (arg === "--misses") misses = true;
    else throw new Error(`unknown option ${arg ?? ""}\n${usage}`);
  }
  if (split !== "test" && split !== "train") throw new Error(`--split: test or train\n${usage}`);
  if ((trainFiles === undefined) !== (evalFiles === undefined))
    throw new Error(`--train and --eval go together\n${usage}`);
  if (misses && evalFiles === undefined)
    throw new Error(`--misses: only with --eval (never on the test split)`);
  const files =
    evalFiles ??
    (split === "test"
      ? ["guard-test.jsonl"]
      : readdirSync(path.join(here, "data"))
          .filter((name) => /^guard-train.*\.jsonl$/.test(name))
          .sort((a, b) => a.replace(/\.jsonl$/, "").localeCompare(b.replace(/\.jsonl$/, ""))));
  const corpus = readCorpus(files);
  const guard =
    trainFiles === undefined
      ? new InjectionGuard()
      : new InjectionGuard({ weights: trainGuardWeights(readCorpus(trainFiles)) });
  if (trainFiles !== undefined)
    console.log(`scorer trained on ${trainFiles.map((name) => `bench/data/${name}`).join(", ")}`);

  const detectors: [string, Detector][] = [
    ["keyword filter (raw text)", (text) => keywords.test(text)],
    [
      "normaliser + rules",
      (text) => {
        const normalized = normalizeForGuard(text);
        return matchGuardRules([normalized.folded, ...normalized.variants]).decisive;
      },
    ],
    ["SARAi guard (rules + scorer)", (text) => guard.check(text).verdict === "attack"],
  ];
  const verdicts = detectors.map(([, detect]) => corpus.map((example) => detect(example.text)));

  console.log(
    `guard on ${files.map((name) => `bench/data/${name}`).join(", ")}: ${corpus.length} texts ` +
      `(${corpus.filter((e) => e.label === "attack").length} attacks), threshold ${guard.threshold}\n`,
  );
  const languages = ["es", "en"] as const;
  const overall = detectors.map(([name], d) => {
    const cells = languages.flatMap((lang) => {
      const counts = count(corpus, verdicts[d] as boolean[], (e) => e.lang === lang);
      return [percent(counts.caught, counts.attacks), percent(counts.flagged, counts.benign)];
    });
    const all = count(corpus, verdicts[d] as boolean[], () => true);
    return [name, ...cells, percent(all.caught, all.attacks), percent(all.flagged, all.benign)];
  });
  console.log(
    formatTable(
      ["detector", "es detection", "es FPR", "en detection", "en FPR", "detection", "FPR"],
      overall,
    ),
  );

  const full = verdicts[2] as boolean[];
  const rulesOnly = verdicts[1] as boolean[];
  const techniques = unique(corpus.filter((e) => e.label === "attack").map((e) => e.technique));
  const techniqueRows = techniques.map((technique) => [
    technique,
    ...languages.map((lang) => {
      const c = count(corpus, full, (e) => e.technique === technique && e.lang === lang);
      return `${c.caught}/${c.attacks}`;
    }),
    percent(
      count(corpus, rulesOnly, (e) => e.technique === technique).caught,
      count(corpus, rulesOnly, (e) => e.technique === technique).attacks,
    ),
    percent(
      count(corpus, full, (e) => e.technique === technique).caught,
      count(corpus, full, (e) => e.technique === technique).attacks,
    ),
  ]);
  console.log(`\ndetection per technique (SARAi guard; rules-only for comparison)`);
  console.log(formatTable(["technique", "es", "en", "rules only", "guard"], techniqueRows));

  const categories = unique(corpus.filter((e) => e.label === "benign").map((e) => e.technique));
  const categoryRows = categories.map((category) => [
    category,
    ...languages.map((lang) => {
      const c = count(corpus, full, (e) => e.technique === category && e.lang === lang);
      return `${c.flagged}/${c.benign}`;
    }),
    percent(
      count(corpus, full, (e) => e.technique === category).flagged,
      count(corpus, full, (e) => e.technique === category).benign,
    ),
  ]);
  console.log(`\nfalse positives per benign category (SARAi guard)`);
  console.log(formatTable(["category", "es", "en", "FPR"], categoryRows));

  // Microseconds per check, each text timed on its own, over several passes after one untimed pass: the guard runs
  // in a long-lived server, so what counts is its speed once the JIT has compiled its code and its regular
  // expressions (timed from a cold start, the first pass alone puts p90 several times higher).
  const timings = detectors.map(([, detect]) => {
    for (const example of corpus) detect(example.text);
    const micros: number[] = [];
    for (let pass = 0; pass < passes; pass++)
      for (const example of corpus) {
        const start = process.hrtime.bigint();
        detect(example.text);
        micros.push(Number(process.hrtime.bigint() - start) / 1000);
      }
    return summarize(micros);
  });
  const base = timings[1]?.median ?? 1;
  console.log(`\nmicroseconds per check (${passes} passes over the corpus after one warm-up pass)`);
  console.log(
    formatTable(
      ["detector", "median µs", "p90 µs", "vs rules"],
      detectors.map(([name], d) => {
        const t = timings[d] as ReturnType<typeof summarize>;
        return [name, t.median.toFixed(1), t.p90.toFixed(1), `${(t.median / base).toFixed(2)}×`];
      }),
    ),
  );
  const keyword = count(corpus, verdicts[0] as boolean[], () => true);
  const guardAll = count(corpus, full, () => true);
  const rulesAll = count(corpus, rulesOnly, () => true);
  console.log(
    `\ndetection ratio guard / keyword filter: ${(guardAll.caught / Math.max(1, keyword.caught)).toFixed(2)}×, ` +
      `guard / rules only: ${(guardAll.caught / Math.max(1, rulesAll.caught)).toFixed(2)}×`,
  );
  if (misses) {
    console.log(`\nmisses (SARAi guard): id, label, technique or category, score`);
    corpus.forEach((example, i) => {
      if (full[i] !== (example.label === "attack"))
        console.log(
          `${example.id} ${example.label} ${example.technique} ${guard.check(example.text).score.toFixed(3)}`,
        );
    });
  }
  await Promise.resolve();
}

/** A comma-separated list of files under bench/data/, never the test split. */
function fileList(option: string, value: string | undefined): string[] {
  const names = (value ?? "").split(",").filter((name) => name !== "");
  if (names.length === 0) throw new Error(`${option} <file,…>: files under bench/data/\n${usage}`);
  if (names.some((name) => name.includes("guard-test")))
    throw new Error(`${option}: the test split is for reporting only, never for training or tuning`);
  return names;
}

function readCorpus(names: readonly string[]): GuardExample[] {
  return names.flatMap((name) => {
    const file = path.join(here, "data", name);
    return parseGuardCorpus(readFileSync(file, "utf8"), file);
  });
}

function count(
  corpus: readonly GuardExample[],
  verdicts: readonly boolean[],
  where: (e: GuardExample) => boolean,
): Counts {
  const counts: Counts = { attacks: 0, caught: 0, benign: 0, flagged: 0 };
  corpus.forEach((example, i) => {
    if (!where(example)) return;
    if (example.label === "attack") {
      counts.attacks++;
      if (verdicts[i] === true) counts.caught++;
    } else {
      counts.benign++;
      if (verdicts[i] === true) counts.flagged++;
    }
  });
  return counts;
}

function percent(part: number, whole: number): string {
  return whole === 0 ? "—" : `${((100 * part) / whole).toFixed(1)}%`;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
