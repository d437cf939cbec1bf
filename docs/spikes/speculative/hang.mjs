// Reproduce the DraftSequenceTokenPredictor stall (minTokens > 0) and show a watchdog catching it.
import { getLlama, LlamaLogLevel, DraftSequenceTokenPredictor } from "/work/main/node_modules/node-llama-cpp/dist/index.js";
const [,, targetPath, draftPath, minTokens = "2", watchdog = "1"] = process.argv;
let pending = false;
process.on("beforeExit", (code) => {
  if (pending) { console.log(`beforeExit with a generation still pending: event loop drained (code ${code}) -> forcing exit 3`); process.exit(3); }
});
const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
const target = await llama.loadModel({ modelPath: targetPath });
const draft = await llama.loadModel({ modelPath: draftPath });
const dseq = (await draft.createContext({ contextSize: 1024, threads: 1 })).getSequence();
const tctx = await target.createContext({ contextSize: 1024, threads: 1 });
const tseq = tctx.getSequence({ tokenPredictor: new DraftSequenceTokenPredictor(dseq, { minTokens: Number(minTokens), maxTokens: 8, minConfidence: 0 }) });
const it = tseq.evaluate(target.tokenize("def main():\n    print("), { temperature: 0 });
let n = 0;
const t0 = performance.now();
for (; n < 200; n++) {
  pending = true;
  let timer;
  const step = it.next();
  const r = watchdog === "1"
    ? await Promise.race([step, new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`watchdog: no token for 5000 ms after ${n} tokens`)), 5000); })]).finally(() => clearTimeout(timer))
    : await step;
  pending = false;
  if (r.done) break;
}
console.log(`done ${n} tokens in ${(performance.now() - t0).toFixed(0)} ms, predictions`, tseq.tokenPredictions);
await llama.dispose();
