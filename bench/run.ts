/**
 * Benchmark runner: `npm run bench -- <name> [options]` runs bench/<name>.ts, whose default export
 * receives the remaining arguments. Each benchmark compares against a baseline measured in the same run
 * and prints ratios.
 */
import { readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts" && !f.startsWith("_"))
  .map((f) => f.slice(0, -3));

const [name, ...args] = process.argv.slice(2);
if (name === undefined || !available.includes(name)) {
  console.error(`usage: npm run bench -- <name> [options]\navailable: ${available.join(", ")}`);
  process.exit(2);
}
console.log(
  `machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "unknown CPU"}, ` +
    `${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, node ${process.version}`,
);
const module = (await import(pathToFileURL(path.join(here, `${name}.ts`)).href)) as {
  default: (args: string[]) => Promise<void>;
};
await module.default(args);
