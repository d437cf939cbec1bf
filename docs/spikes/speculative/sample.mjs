// Speculative SAMPLING (Leviathan et al. / Chen et al.) on node-llama-cpp 3.22.1, plus a distribution check
// against plain sampling from the target, and a speed comparison.
// Usage: node /tmp/spec-spike/sample.mjs --target T --draft D [--n 128] [--ks 2,4,6] [--temp 1]
//        [--runs 300 --len 6]   (distribution check: runs × len tokens per method)
import { getLlama, LlamaLogLevel } from "/work/main/node_modules/node-llama-cpp/dist/index.js";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1]]);
    return acc;
  }, []),
);
const N = Number(args.n ?? 128);
const KS = (args.ks ?? "2,4,6").split(",").map(Number);
const RUNS = Number(args.runs ?? 0);
const LEN = Number(args.len ?? 6);
const PROMPT = args.prompt ?? "def main():\n    print(";
// The SAME sampler options must be used for the draft (q) and the target (p): the returned
// `probabilities` are the distribution AFTER temperature/topK/topP/minP, i.e. what plain sampling draws from.
const SOPTS = { temperature: Number(args.temp ?? 1), topK: Number(args.topk ?? 0), topP: 1, minP: 0 };
const PROBS = { generateNext: { probabilities: true, options: SOPTS } };

function mulberry32(a) {
  return () => {
    a |= 0; a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function sampleFrom(dist, rng) {
  let u = rng(), last;
  for (const [t, p] of dist) { last = t; u -= p; if (u <= 0) return t; }
  return last;
}
async function probsLast(seq, tokens) {
  const input = tokens.map((t, i) => (i === tokens.length - 1 ? [t, PROBS] : t));
  const out = await seq.controlledEvaluate(input);
  return out[tokens.length - 1].next.probabilities;
}

async function plainSampling(tseq, promptTokens, n, rng) {
  await tseq.clearHistory();
  const out = [];
  let next = sampleFrom(await probsLast(tseq, promptTokens), rng);
  const t0 = performance.now();
  out.push(next);
  while (out.length < n) { next = sampleFrom(await probsLast(tseq, [next]), rng); out.push(next); }
  return { tokens: out, ms: performance.now() - t0 };
}

async function speculativeSampling(tseq, dseq, promptTokens, n, k, rng) {
  await tseq.clearHistory();
  await dseq.clearHistory();
  const stats = { drafted: 0, accepted: 0, batches: 0 };
  const [p0] = await Promise.all([probsLast(tseq, promptTokens), dseq.evaluateWithoutGeneratingNewTokens(promptTokens)]);
  const t0 = performance.now();
  let last = sampleFrom(p0, rng);
  const out = [last];
  let draftPending = [last];
  while (out.length < n) {
    const kk = Math.min(k, n - out.length);
    const drafted = [], qs = [];
    let q = await probsLast(dseq, draftPending);
    for (;;) {
      const d = sampleFrom(q, rng);
      drafted.push(d); qs.push(q);
      if (drafted.length === kk) break;
      q = await probsLast(dseq, [d]);
    }
    const res = await tseq.controlledEvaluate([last, ...drafted].map((t) => [t, PROBS]));
    stats.batches++;
    let a = 0, bonus;
    for (; a < kk; a++) {
      const p = res[a].next.probabilities, qd = qs[a].get(drafted[a]) ?? 0, pd = p.get(drafted[a]) ?? 0;
      if (rng() < Math.min(1, pd / qd)) continue; // accept
      // reject: sample from the residual norm(max(0, p - q))
      const residual = new Map();
      let z = 0;
      for (const [t, pv] of p) { const r = Math.max(0, pv - (qs[a].get(t) ?? 0)); if (r > 0) { residual.set(t, r); z += r; } }
      if (z > 0) { for (const [t, r] of residual) residual.set(t, r / z); bonus = sampleFrom(residual, rng); }
      else bonus = sampleFrom(p, rng);
      break;
    }
    if (a === kk) bonus = sampleFrom(res[kk].next.probabilities, rng);
    stats.drafted += kk; stats.accepted += a;
    const tEnd = tseq.nextTokenIndex, tRej = kk - a;
    if (tRej > 0) await tseq.eraseContextTokenRanges([{ start: tEnd - tRej, end: tEnd }]);
    const dEnd = dseq.nextTokenIndex, dRej = kk - 1 - Math.min(a, kk - 1);
    if (dRej > 0) await dseq.eraseContextTokenRanges([{ start: dEnd - dRej, end: dEnd }]);
    draftPending = a === kk ? [drafted[kk - 1], bonus] : [bonus];
    for (let i = 0; i < a; i++) out.push(drafted[i]);
    out.push(bonus);
    last = bonus;
  }
  return { tokens: out.slice(0, n), ms: performance.now() - t0, stats };
}

const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
const target = await llama.loadModel({ modelPath: args.target });
const draft = await llama.loadModel({ modelPath: args.draft });
const tseq = (await target.createContext({ contextSize: 2048, threads: 1 })).getSequence();
const dseq = (await draft.createContext({ contextSize: 2048, threads: 1 })).getSequence();
const promptTokens = target.tokenize(PROMPT);
console.log(`sampling ${JSON.stringify(SOPTS)} target=${args.target} draft=${args.draft}`);

if (N > 0) {
  const r = await plainSampling(tseq, promptTokens, N, mulberry32(1));
  console.log(`plain sampling  ${((1000 * (N - 1)) / r.ms).toFixed(1)} tok/s`);
  for (const k of KS) {
    const s = await speculativeSampling(tseq, dseq, promptTokens, N, k, mulberry32(1));
    console.log(`spec sampling k=${k}  ${((1000 * (N - 1)) / s.ms).toFixed(1)} tok/s  accept=${((100 * s.stats.accepted) / s.stats.drafted).toFixed(1)}%  tokens/batch=${(N / s.stats.batches).toFixed(2)}`);
  }
}

if (RUNS > 0) {
  // Distribution check: histogram of (position j, token) over RUNS generations for each method.
  const hist = async (fn, seed) => {
    const h = Array.from({ length: LEN }, () => new Map());
    const rng = mulberry32(seed);
    for (let r = 0; r < RUNS; r++) {
      const { tokens } = await fn(rng);
      tokens.forEach((t, j) => h[j].set(t, (h[j].get(t) ?? 0) + 1));
    }
    return h;
  };
  const tv = (h1, h2) => h1.map((m1, j) => {
    const keys = new Set([...m1.keys(), ...h2[j].keys()]);
    let s = 0; for (const t of keys) s += Math.abs((m1.get(t) ?? 0) - (h2[j].get(t) ?? 0)) / RUNS;
    return (s / 2).toFixed(3);
  });
  const k = KS.at(-1);
  const plainA = await hist((rng) => plainSampling(tseq, promptTokens, LEN, rng), 11);
  const plainB = await hist((rng) => plainSampling(tseq, promptTokens, LEN, rng), 22);
  const spec = await hist((rng) => speculativeSampling(tseq, dseq, promptTokens, LEN, k, rng), 33);
  // a deliberately WRONG variant for contrast: sampling from the draft alone
  const draftOnly = await hist(async (rng) => plainSampling(dseq, promptTokens, LEN, rng), 44);
  console.log(`TV distance per position (runs=${RUNS}, k=${k}):`);
  console.log(`  plain vs plain (noise floor): ${tv(plainA, plainB).join(" ")}`);
  console.log(`  plain vs speculative        : ${tv(plainA, spec).join(" ")}`);
  console.log(`  plain vs draft-only (wrong) : ${tv(plainA, draftOnly).join(" ")}`);
}
await llama.dispose();
