/**
 * Entity memory: extraction quality on the labelled sets, rule extraction speed on one core, batched inserts,
 * recall latency with 1,000,000 facts stored, and what vacuum wins back. Every figure sits beside a baseline
 * measured in the same run.
 *
 *   npm run bench -- memory [--facts N] [--queries N]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import {
  EntityStore,
  detectLanguage,
  extractFacts,
  parseLabelledSet,
  scoreExtraction,
  type NewFact,
} from "../src/memory/index.js";
import { formatTable, parseIntegerOption, quantileOfSorted } from "./_stats.js";

const usage = "usage: npm run bench -- memory [--facts N] [--queries N]";
const here = path.dirname(fileURLToPath(import.meta.url));

interface Options {
  facts: number;
  queries: number;
}

function parseOptions(args: string[]): Options {
  const options: Options = { facts: 1_000_000, queries: 20_000 };
  for (let i = 0; i < args.length; i += 2) {
    const [flag, value] = [args[i], args[i + 1] ?? ""];
    if (flag === "--facts") options.facts = parseIntegerOption(flag, value, 10_000, usage);
    else if (flag === "--queries") options.queries = parseIntegerOption(flag, value, 100, usage);
    else throw new Error(`unknown option ${flag}\n${usage}`);
  }
  return options;
}

const percent = (value: number) => `${(value * 100).toFixed(1)}%`;
const micros = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;

function quality(): void {
  console.log("\n## Extraction quality: (subject, object, polarity), micro-averaged");
  const rows: string[][] = [];
  for (const name of ["memory-facts.jsonl", "memory-facts-holdout.jsonl", "memory-facts-holdout2.jsonl"]) {
    const file = path.join(here, "data", name);
    const items = parseLabelledSet(readFileSync(file, "utf8"), file);
    const score = scoreExtraction(items, (text, lang) => extractFacts(text, lang));
    // Baseline: the same extractor told nothing about the language (it detects it).
    const detected = scoreExtraction(items, (text) => extractFacts(text));
    const empty = items.filter((item) => item.facts.length === 0).length;
    rows.push([
      name,
      String(items.length),
      `${score.byLanguage.es.utterances}/${score.byLanguage.en.utterances}`,
      String(empty),
      percent(score.precision),
      percent(score.recall),
      `${percent(score.byLanguage.es.precision)} / ${percent(score.byLanguage.es.recall)}`,
      `${percent(score.byLanguage.en.precision)} / ${percent(score.byLanguage.en.recall)}`,
      String(score.spuriousOnEmpty),
      `${percent(detected.precision)} / ${percent(detected.recall)}`,
    ]);
    if (process.env["BENCH_VERBOSE"] === "1")
      for (const miss of score.misses)
        console.log(
          `  ${miss.id}: ${miss.text}\n    missing ${JSON.stringify(miss.missing)} extra ${JSON.stringify(miss.extra)}`,
        );
  }
  console.log(
    formatTable(
      [
        "set",
        "utterances",
        "es/en",
        "no-fact",
        "precision",
        "recall",
        "es P/R",
        "en P/R",
        "spurious",
        "lang detected P/R",
      ],
      rows,
    ),
  );
  const items = parseLabelledSet(
    readFileSync(path.join(here, "data", "memory-facts.jsonl"), "utf8"),
    "memory-facts.jsonl",
  );
  const correct = items.filter((item) => detectLanguage(item.text) === item.lang).length;
  console.log(`language detection: ${correct}/${items.length} (${percent(correct / items.length)})`);
}

function extractionSpeed(): void {
  console.log("\n## Rule extraction speed (one core, this process)");
  const items = parseLabelledSet(
    readFileSync(path.join(here, "data", "memory-facts.jsonl"), "utf8"),
    "memory-facts.jsonl",
  );
  const texts = items.map((item) => item.text);
  const rounds = 40;
  const time = (fn: (text: string) => unknown) => {
    for (const text of texts) fn(text); // warm up
    const start = process.hrtime.bigint();
    let sink = 0;
    for (let r = 0; r < rounds; r++) for (const text of texts) sink += (fn(text) as unknown[]).length;
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (sink < 0) console.log(sink);
    return (rounds * texts.length) / seconds;
  };
  // Baseline: only splitting into words, the least any extractor does.
  const baseline = time((text) => text.split(/\s+/u));
  const rate = time((text) => extractFacts(text));
  console.log(
    formatTable(
      ["what", "utterances/s", "vs word split"],
      [
        ["word split (baseline)", baseline.toFixed(0), "1.00×"],
        ["extractFacts (detects language)", rate.toFixed(0), `${(rate / baseline).toFixed(3)}×`],
      ],
    ),
  );
}

function makeFact(i: number, users: number): NewFact {
  const user = i % users;
  const entity = Math.floor(i / users);
  return {
    userId: `user${user}`,
    subject: `Persona ${entity % 20_000}`,
    relation: ["likes", "friend", "plays", "speaks", "uses"][entity % 5] as string,
    object: `Objeto ${i}`,
    confidence: 0.5 + (i % 50) / 100,
    source: "user_input",
  };
}

function storeFigures(options: Options): void {
  const dir = mkdtempSync(path.join(tmpdir(), "sarai-bench-memory-"));
  try {
    const users = 100;
    console.log(`\n## Store: ${options.facts.toLocaleString("en")} facts, ${users} users`);
    const store = EntityStore.open({ file: path.join(dir, "sarai.db") });

    // Baseline: one transaction per fact (autocommit), on a sample.
    const singles = 3000;
    let start = performance.now();
    for (let i = 0; i < singles; i++) store.remember(makeFact(options.facts + i, users));
    const singleRate = singles / ((performance.now() - start) / 1000);

    const batch = 10_000;
    start = performance.now();
    for (let i = 0; i < options.facts; i += batch) {
      const facts: NewFact[] = [];
      for (let j = i; j < Math.min(options.facts, i + batch); j++) facts.push(makeFact(j, users));
      store.rememberMany(facts);
    }
    const batchRate = options.facts / ((performance.now() - start) / 1000);
    console.log(
      formatTable(
        ["insert", "facts/s", "vs one per transaction"],
        [
          ["one fact per transaction (baseline)", singleRate.toFixed(0), "1.00×"],
          [
            `batches of ${batch.toLocaleString("en")}`,
            batchRate.toFixed(0),
            `${(batchRate / singleRate).toFixed(2)}×`,
          ],
        ],
      ),
    );

    // Recall latency: by subject, and from free text naming two entities. Baseline: the same subject query
    // forced to scan the table (NOT INDEXED), what a store without the indexes does.
    const measure = (n: number, query: (i: number) => unknown) => {
      const samples = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        query(i);
        samples[i] = performance.now() - t0;
      }
      const sorted = [...samples].sort((a, b) => a - b);
      return { p50: quantileOfSorted(sorted, 0.5), p99: quantileOfSorted(sorted, 0.99) };
    };
    const pick = (i: number) => ({ user: `user${(i * 7919) % users}`, entity: (i * 104_729) % 20_000 });
    for (let i = 0; i < 2000; i++)
      store.recall({ userId: pick(i).user, subject: `Persona ${pick(i).entity}` });
    const bySubject = measure(options.queries, (i) =>
      store.recall({ userId: pick(i).user, subject: `persona ${pick(i).entity}`, limit: 24 }),
    );
    const byText = measure(options.queries, (i) =>
      store.recall({
        userId: pick(i).user,
        text: `¿Qué sabes de Persona ${pick(i).entity} y de persona ${pick(i + 1).entity}?`,
        limit: 24,
      }),
    );
    const raw = new Database(store.file, { readonly: true });
    const scan = raw.prepare(
      "SELECT * FROM facts NOT INDEXED WHERE user_id = ? AND subject_key = ? AND valid_to IS NULL ORDER BY confidence DESC LIMIT 24",
    );
    const baselineScan = measure(Math.min(20, options.queries), (i) =>
      scan.all(pick(i).user, `persona ${pick(i).entity}`),
    );
    raw.close();
    console.log(
      formatTable(
        ["recall", "p50", "p99", "p99 vs scan"],
        [
          ["table scan, same query (baseline)", micros(baselineScan.p50), micros(baselineScan.p99), "1.00×"],
          [
            "by subject",
            micros(bySubject.p50),
            micros(bySubject.p99),
            `${(baselineScan.p99 / bySubject.p99).toFixed(0)}× faster`,
          ],
          [
            "from text naming two entities",
            micros(byText.p50),
            micros(byText.p99),
            `${(baselineScan.p99 / byText.p99).toFixed(0)}× faster`,
          ],
        ],
      ),
    );

    // Vacuum: forget a fifth of the users (as `sarai memory forget --all` would), then compact.
    for (let u = 0; u < users / 5; u++) store.forgetUser(`user${u}`);
    const report = store.vacuum();
    console.log(
      `\nvacuum after forgetting ${users / 5} of ${users} users: ${(report.bytesBefore / 2 ** 20).toFixed(1)} MiB → ` +
        `${(report.bytesAfter / 2 ** 20).toFixed(1)} MiB (saved ${((1 - report.bytesAfter / report.bytesBefore) * 100).toFixed(1)}%), ` +
        `${report.duplicatesRemoved} repeated history rows`,
    );
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function run(args: string[]): Promise<void> {
  const options = parseOptions(args);
  quality();
  extractionSpeed();
  storeFigures(options);
  await Promise.resolve();
}
