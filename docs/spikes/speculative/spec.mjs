// Speculative-decoding spike on node-llama-cpp 3.22.1 lower-level APIs.
// Usage: node /tmp/spec-spike/spec.mjs --target T.gguf --draft D.gguf [--n 128] [--ks 2,4,6,8]
//        [--modes plain,evaluate,completion,spec] [--prompt "..."] [--threads 1] [--reps 1]
import { getLlama, LlamaCompletion, LlamaLogLevel, DraftSequenceTokenPredictor } from "/work/main/node_modules/node-llama-cpp/dist/index.js";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1]]);
    return acc;
  }, []),
);
const N = Number(args.n ?? 128);
const KS = (args.ks ?? "2,4,6,8").split(",").map((x) => (x.startsWith("a") ? x : Number(x)));
const MODES = (args.modes ?? "plain,evaluate,completion,spec").split(",");
const THREADS = Number(args.threads ?? 1);
const REPS = Number(args.reps ?? 1);
const PROMPT = args.prompt ?? "def main():\n    print("; // greedy run has no EOG within 300 tokens on the synthetic targets
const WATCHDOG_MS = Number(args.watchdog ?? 30_000);

// ---------- watchdog ----------
// A ref'd timer both detects a stall AND keeps the event loop alive: without it, a native evaluation
// promise that never settles lets Node exit with code 0 mid-generation (seen with DraftSequenceTokenPredictor).
export function withWatchdog(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`watchdog: ${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const GREEDY = { generateNext: { token: true } }; // temperature defaults to 0 => greedy (argmax)

/** Evaluate `tokens` on `seq`; return the greedy next token after the LAST one. */
async function evalLast(seq, tokens, what) {
  const input = tokens.map((t, i) => (i === tokens.length - 1 ? [t, GREEDY] : t));
  const out = await withWatchdog(seq.controlledEvaluate(input), WATCHDOG_MS, what);
  return out[tokens.length - 1].next.token;
}

/** Plain greedy decoding with the target only, one token per controlledEvaluate call. */
async function plainGreedy(seq, promptTokens, n) {
  const out = [];
  let next = await evalLast(seq, promptTokens, "prompt");
  const t0 = performance.now();
  out.push(next);
  while (out.length < n) {
    next = await evalLast(seq, [next], "plain step");
    out.push(next);
  }
  return { tokens: out, ms: performance.now() - t0 };
}

/** Plain greedy via sequence.evaluate() (the generator used by LlamaChat/LlamaCompletion). */
async function plainEvaluate(seq, promptTokens, n) {
  const out = [];
  let t0;
  const it = seq.evaluate(promptTokens, { temperature: 0, yieldEogToken: true });
  while (out.length < n) {
    const r = await withWatchdog(it.next(), WATCHDOG_MS, "evaluate step");
    if (r.done) break;
    if (t0 === undefined) t0 = performance.now(); // first token includes prompt processing
    out.push(r.value);
  }
  await it.return();
  return { tokens: out, ms: performance.now() - t0 };
}

/**
 * Greedy speculative decoding.
 * Invariant at loop start: both sequences hold prompt + emitted[0..-2]; `last` (= emitted at -1) is the
 * target's newest token, evaluated in neither. `draftPending` = tokens the draft still has to ingest
 * before drafting (normally [last]; [d_k, last] after a fully accepted round).
 */
async function speculativeGreedy(tseq, dseq, promptTokens, n, kSpec) {
  // kSpec: a number (fixed draft length) or "aN" (adaptive, max N): grow by 2 after a fully accepted
  // round, shrink to accepted+1 after a rejection (so an unrelated draft costs ~1 cheap draft token per step).
  const adaptive = typeof kSpec === "string";
  const kMax = adaptive ? Number(kSpec.slice(1)) : kSpec;
  let k = adaptive ? Math.min(4, kMax) : kSpec;
  const stats = { rounds: 0, drafted: 0, accepted: 0, targetBatches: 0, draftEvals: 0, perRoundAccepted: [] };
  // prompt on both (the draft's prediction is ignored; the target decides the first token)
  const [last0] = await Promise.all([
    evalLast(tseq, promptTokens, "target prompt"),
    withWatchdog(dseq.evaluateWithoutGeneratingNewTokens(promptTokens), WATCHDOG_MS, "draft prompt"),
  ]);
  const t0 = performance.now();
  const out = [last0];
  let last = last0;
  let draftPending = [last0];
  while (out.length < n) {
    const kk = Math.min(k, n - out.length); // don't draft past the end
    // 1) draft kk tokens greedily, one at a time
    const drafted = [];
    let tok = await evalLast(dseq, draftPending, "draft");
    stats.draftEvals++;
    drafted.push(tok);
    while (drafted.length < kk) {
      tok = await evalLast(dseq, [tok], "draft");
      stats.draftEvals++;
      drafted.push(tok);
    }
    // draft KV now holds ... last, d1..d_{kk-1}   (d_kk not evaluated)

    // 2) verify [last, d1..dkk] on the target in ONE batch, greedy token at every position
    const verifyInput = [last, ...drafted].map((t) => [t, GREEDY]);
    const res = await withWatchdog(tseq.controlledEvaluate(verifyInput), WATCHDOG_MS, "verify");
    stats.targetBatches++;
    const targetNext = res.map((r) => r.next.token); // targetNext[i] = target's token after input i
    let a = 0;
    while (a < kk && targetNext[a] === drafted[a]) a++;
    const bonus = targetNext[a]; // correction token (a<kk) or free extra token (a==kk)
    stats.rounds++;
    stats.drafted += kk;
    stats.accepted += a;
    stats.perRoundAccepted.push(a);
    if (adaptive) k = a === kk ? Math.min(kMax, k + 2) : Math.max(1, a + 1);

    // 3) roll back rejected tokens: target evaluated kk+1 tokens, keep last + d1..da
    const tEnd = tseq.nextTokenIndex;
    const tRejected = kk - a;
    if (tRejected > 0) await tseq.eraseContextTokenRanges([{ start: tEnd - tRejected, end: tEnd }]);
    //    draft evaluated last(+pending) + d1..d_{kk-1}; keep up to d_min(a, kk-1)
    const dEnd = dseq.nextTokenIndex;
    const dRejected = kk - 1 - Math.min(a, kk - 1);
    if (dRejected > 0) await dseq.eraseContextTokenRanges([{ start: dEnd - dRejected, end: dEnd }]);
    draftPending = a === kk ? [drafted[kk - 1], bonus] : [bonus];

    for (let i = 0; i < a; i++) out.push(drafted[i]);
    out.push(bonus);
    last = bonus;
  }
  const ms = performance.now() - t0;
  return { tokens: out.slice(0, n), ms, stats };
}

async function completionRef(ctxSeq, prompt, n) {
  const completion = new LlamaCompletion({ contextSequence: ctxSeq });
  const t0 = performance.now();
  let first;
  let count = 0;
  const text = await completion.generateCompletion(prompt, {
    maxTokens: n,
    temperature: 0,
    onToken: (toks) => {
      if (first === undefined) first = performance.now();
      count += toks.length;
    },
  });
  const end = performance.now();
  return { text, count, ms: end - (first ?? t0), totalMs: end - t0 };
}

/** Cost of one target batch of b tokens (+ rollback), for several output options. */
async function costs() {
  const reps = 20;
  const variants = {
    lastOnly: (i, b) => (i === b - 1 ? GREEDY : undefined),
    tokenEach: () => GREEDY,
    confEach: () => ({ generateNext: { token: true, confidence: true } }),
    probsEach: () => ({ generateNext: { token: true, probabilities: true } }),
    logitsEach: () => ({ generateNext: { token: true, logits: true } }),
    probsT08Each: () => ({ generateNext: { token: true, probabilities: true, options: { temperature: 0.8, seed: 1 } } }),
  };
  for (const [label, seq] of [["target", tseq], ["draft", dseq]]) {
    if (!seq) continue;
    await seq.clearHistory();
    await seq.evaluateWithoutGeneratingNewTokens(promptTokens);
    for (const [name, opt] of Object.entries(variants)) {
      if (label === "draft" && name !== "lastOnly" && name !== "probsEach") continue;
      const row = [];
      for (const b of label === "draft" ? [1, 2] : [1, 2, 3, 4, 5, 7, 9]) {
        const toks = Array.from({ length: b }, (_, i) => 97 + ((i * 7) % 26));
        let total = 0;
        for (let r = 0; r < reps; r++) {
          const input = toks.map((t, i) => { const o = opt(i, b); return o ? [t, o] : t; });
          const t0 = performance.now();
          await seq.controlledEvaluate(input);
          total += performance.now() - t0;
          const end = seq.nextTokenIndex;
          await seq.eraseContextTokenRanges([{ start: end - b, end }]);
        }
        row.push(`b${b}=${(total / reps).toFixed(2)}ms`);
      }
      console.log(`cost ${label} ${name.padEnd(13)} ${row.join(" ")}`);
    }
    // rollback cost alone
    let t = 0;
    for (let r = 0; r < reps; r++) {
      await seq.evaluateWithoutGeneratingNewTokens([97, 98, 99, 100]);
      const t0 = performance.now();
      const end = seq.nextTokenIndex;
      await seq.eraseContextTokenRanges([{ start: end - 4, end }]);
      t += performance.now() - t0;
    }
    console.log(`cost ${label} eraseTail4    ${(t / reps).toFixed(3)}ms`);
  }
}

// ---------- main ----------
const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
const target = await llama.loadModel({ modelPath: args.target });
const draft = args.draft ? await llama.loadModel({ modelPath: args.draft }) : undefined;
const tctx = await target.createContext({ contextSize: 2048, threads: THREADS, sequences: 1 });
const dctx = draft ? await draft.createContext({ contextSize: 2048, threads: THREADS, sequences: 1 }) : undefined;
const tseq = tctx.getSequence();
const dseq = dctx?.getSequence();
const promptTokens = target.tokenize(PROMPT);
const fmt = (x) => x.toFixed(1);
console.log(`target=${args.target} draft=${args.draft} n=${N} threads=${THREADS} promptTokens=${promptTokens.length}`);

let reference;
for (let rep = 0; rep < REPS; rep++) {
  if (MODES.includes("plain")) {
    await tseq.clearHistory();
    const r = await plainGreedy(tseq, promptTokens, N);
    reference ??= r.tokens;
    console.log(`plain(controlledEvaluate x1)  ${fmt((1000 * (r.tokens.length - 1)) / r.ms)} tok/s  (${r.tokens.length} tokens, ${fmt(r.ms)} ms)`);
  }
  if (MODES.includes("evaluate")) {
    await tseq.clearHistory();
    const r = await plainEvaluate(tseq, promptTokens, N);
    const same = reference ? r.tokens.every((t, i) => t === reference[i]) : "n/a";
    console.log(`plain(sequence.evaluate)      ${fmt((1000 * (r.tokens.length - 1)) / r.ms)} tok/s  identical=${same}`);
  }
  if (MODES.includes("completion")) {
    await tseq.clearHistory();
    const r = await completionRef(tseq, PROMPT, N);
    const refText = reference ? target.detokenize(reference) : undefined;
    console.log(
      `LlamaCompletion               ${fmt((1000 * (r.count - 1)) / r.ms)} tok/s  (${r.count} tokens) identical=${refText === undefined ? "n/a" : refText.startsWith(r.text) || r.text === refText}`,
    );
  }
  if (MODES.includes("predictor") && draft) {
    // node-llama-cpp's own DraftSequenceTokenPredictor (stock), for comparison; separate contexts.
    const pdctx = await draft.createContext({ contextSize: 2048, threads: THREADS });
    const ptctx = await target.createContext({ contextSize: 2048, threads: THREADS });
    const pseq = ptctx.getSequence({
      tokenPredictor: new DraftSequenceTokenPredictor(pdctx.getSequence(), { minTokens: 0, maxTokens: 8, minConfidence: 0 }),
    });
    const r = await plainEvaluate(pseq, promptTokens, N);
    const same = reference ? r.tokens.every((t, i) => t === reference[i]) : "n/a";
    console.log(`DraftSequenceTokenPredictor   ${fmt((1000 * (r.tokens.length - 1)) / r.ms)} tok/s  identical=${same} ${JSON.stringify(pseq.tokenPredictions)}`);
    await ptctx.dispose();
    await pdctx.dispose();
  }
  if (MODES.includes("spec") && draft) {
    for (const k of KS) {
      await tseq.clearHistory();
      await dseq.clearHistory();
      const r = await speculativeGreedy(tseq, dseq, promptTokens, N, k);
      const same = reference ? r.tokens.every((t, i) => t === reference[i]) : "n/a";
      const s = r.stats;
      console.log(
        `spec k=${k}  ${fmt((1000 * (r.tokens.length - 1)) / r.ms)} tok/s  accept=${fmt((100 * s.accepted) / s.drafted)}% ` +
          `tokens/targetBatch=${(r.tokens.length / s.targetBatches).toFixed(2)} rounds=${s.rounds} identical=${same}`,
      );
      if (same === false) {
        const i = r.tokens.findIndex((t, j) => t !== reference[j]);
        console.log(`   first difference at ${i}: spec=${r.tokens.slice(i, i + 5)} ref=${reference.slice(i, i + 5)}`);
      }
    }
  }
}
if (MODES.includes("costs")) await costs();
if (reference) console.log("text:", JSON.stringify(target.detokenize(reference).slice(0, 120)));
await llama.dispose();
