/** Whether a build is missing or older than its sources, for tests that run what `npm run build` leaves. */
import { existsSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";

async function newestMtime(dir: string): Promise<number> {
  const files = await readdir(dir, { recursive: true });
  const times = await Promise.all(files.map(async (file) => (await stat(path.join(dir, file))).mtimeMs));
  return Math.max(0, ...times);
}

/** True when an output is missing or a file under a source folder changed after the oldest output. */
export async function isStale(outputs: readonly string[], sourceDirs: readonly string[]): Promise<boolean> {
  if (!outputs.every((output) => existsSync(output))) return true;
  const builtAt = Math.min(
    ...(await Promise.all(outputs.map(async (output) => (await stat(output)).mtimeMs))),
  );
  const changed = Math.max(...(await Promise.all(sourceDirs.map(newestMtime))));
  return changed > builtAt;
}
