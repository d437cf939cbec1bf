/**
 * The learning loop end to end on a generated model: scripted feedback teaches a fact the base model does not
 * produce; a LoRA is trained on the CPU, gated and hot-applied; a deliberately bad one (a learning rate that
 * diverges) is refused.
 *
 *   npm run bench -- learning [--steps 800] [--rank 8]
 *
 * The baseline is the bare model in the same run: its NLL and exact answers on the held-out questions and the
 * regression prompts, against the promoted adapter's.
 */
import { parseArgs } from "node:util";
import { EmbeddedBackend } from "../src/inference/index.js";
import type { GateFigures, TrainingReport } from "../src/learning/index.js";
import { createLearningRig, factAnswer, factFeedback } from "../test/learning-fixtures.js";
import { formatTable, parseIntegerOption } from "./_stats.js";

const usage = "usage: npm run bench -- learning [--steps N] [--rank R]";

export default async function learningBench(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { steps: { type: "string", default: "800" }, rank: { type: "string", default: "8" } },
  });
  const steps = parseIntegerOption("--steps", values.steps, 1, usage);
  const rank = parseIntegerOption("--rank", values.rank, 1, usage);
  const rig = await createLearningRig();
  try {
    for (const row of factFeedback()) rig.feedback.add(row);
    const backend = new EmbeddedBackend({ pool: rig.pool, speculative: { enabled: false } });
    const ask = async (question: string) =>
      (
        await backend.chat(
          {
            role: "main",
            messages: [{ role: "user", content: question }],
            sampling: { temperature: 0, maxTokens: 24 },
          },
          new AbortController().signal,
        )
      ).text;
    const probe = "What is the capital of Zorbia?";
    const before = await ask(probe);

    const service = await rig.open({ steps, rank, alpha: rank });
    // Forced: the busy check (load average) would skip a run while other work shares the machine.
    const good = await service.train({ force: true, signal: new AbortController().signal });
    const after = await ask(probe);

    const badService = await rig.open({ steps, rank, alpha: rank, learningRate: 1 });
    const refused = await badService.train({ force: true, signal: new AbortController().signal });
    const stillActive = badService.status().active;
    const afterBad = await ask(probe);

    console.log(
      `\nLearning loop on ${rig.model.split("/").at(-1) ?? rig.model} (${good.examples} examples, ${good.heldOut} held out)`,
    );
    printReport("good adapter", good);
    printReport("bad adapter (learning rate 1)", refused);
    console.log(
      formatTable(
        ["", "answer to “" + probe + "”"],
        [
          ["bare model", JSON.stringify(before)],
          ["after promotion (hot)", JSON.stringify(after)],
          ["after the bad run", JSON.stringify(afterBad)],
          ["taught", JSON.stringify(factAnswer)],
        ],
      ),
    );
    console.log(
      `active adapter after the bad run: ${stillActive ?? "none"} (promoted: ${good.adapterId ?? "none"})`,
    );
  } finally {
    await rig.dispose();
  }
}

function printReport(name: string, report: TrainingReport): void {
  console.log(`\n${name}: ${report.outcome}${report.reason === undefined ? "" : ` (${report.reason})`}`);
  if (report.current === undefined || report.candidate === undefined) return;
  const row = (label: string, pick: (f: GateFigures) => { nll: number; exact: number; total: number }) => {
    const a = pick(report.current as GateFigures);
    const b = pick(report.candidate as GateFigures);
    return [
      label,
      a.nll.toFixed(3),
      b.nll.toFixed(3),
      (b.nll / a.nll).toFixed(3),
      `${a.exact}/${a.total}`,
      `${b.exact}/${b.total}`,
    ];
  };
  console.log(
    formatTable(
      ["set", "NLL before", "NLL after", "after/before", "exact before", "exact after"],
      [row("held-out feedback", (f) => f.heldOut), row("regression", (f) => f.regression)],
    ),
  );
  console.log(
    `train positions ${report.trainPositions}, steps ${report.steps}, loss ${report.firstLoss?.toFixed(3)} → ${report.lastLoss?.toFixed(3)}, ` +
      `${report.stepMs?.toFixed(2)} ms/step, run ${report.trainSeconds?.toFixed(1)} s, peak RSS ${report.peakRssMb} MiB`,
  );
  for (const reason of report.verdict?.reasons ?? []) console.log(`  ${reason}`);
}
