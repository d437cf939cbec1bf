// What happens when a watchdog fires during an in-flight controlledEvaluate and we dispose the context?
import { getLlama, LlamaLogLevel } from "/work/main/node_modules/node-llama-cpp/dist/index.js";
const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
const m = await llama.loadModel({ modelPath: process.argv[2] });
const ctx = await m.createContext({ contextSize: 512, threads: 1 });
const seq = ctx.getSequence();
const toks = m.tokenize("def main():\n    print(hello world)");
const t0 = performance.now();
const inflight = seq.controlledEvaluate(toks.map((t) => [t, { generateNext: { token: true } }]));
inflight.then(() => console.log("in-flight resolved at", (performance.now() - t0).toFixed(0), "ms"), (e) => console.log("in-flight rejected at", (performance.now() - t0).toFixed(0), "ms:", e?.constructor?.name, e?.message));
await new Promise((r) => setTimeout(r, 5));
console.log("watchdog fired at", (performance.now() - t0).toFixed(0), "ms; disposing context");
await ctx.dispose();
console.log("context disposed at", (performance.now() - t0).toFixed(0), "ms; seq.disposed =", seq.disposed);
try { await seq.controlledEvaluate([toks[0]]); } catch (e) { console.log("later call:", e?.constructor?.name, e?.message); }
const ctx2 = await m.createContext({ contextSize: 512, threads: 1 });
const [r] = (await ctx2.getSequence().controlledEvaluate([[toks[0], { generateNext: { token: true } }]]));
console.log("fresh context works, token", r.next.token);
await llama.dispose();
