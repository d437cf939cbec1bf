import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { EntityStore } from "../src/memory/index.js";

const root = path.resolve(import.meta.dirname, "..");
const tsx = pathToFileURL(path.join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;
const writer = path.join(root, "test", "fixtures", "memory-writer.ts");
const dir = mkdtempSync(path.join(tmpdir(), "sarai-durability-"));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the writer until it reported `commits` commits, then SIGKILLs it; returns the last commit it reported. */
async function writeThenKill(file: string, commits: number): Promise<{ lastId: number; total: number }> {
  const child = spawn(process.execPath, ["--import", tsx, writer, file], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  let buffered = "";
  let last = { lastId: 0, total: 0 };
  let seen = 0;
  await new Promise<void>((resolve, reject) => {
    child.on("exit", (code, signal) => {
      if (signal === "SIGKILL") resolve();
      else reject(new Error(`writer exited early (${code}): ${stderr}`));
    });
    child.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        const match = /^committed (\d+) (\d+)$/.exec(line);
        if (match === null) continue;
        last = { lastId: Number(match[1]), total: Number(match[2]) };
        // Kill in the middle of the burst: the writer is already inside its next transaction.
        if (++seen === commits) child.kill("SIGKILL");
      }
    });
  });
  return last;
}

describe("memory", () => {
  describe("durability", () => {
    it("loses no committed fact to kill -9 mid-burst and stays consistent", async () => {
      const file = path.join(dir, "sarai.db");
      const first = await writeThenKill(file, 40);
      const second = await writeThenKill(file, 25);
      expect(first.total).toBeGreaterThanOrEqual(40 * 25);

      const store = EntityStore.open({ file });
      try {
        expect(store.integrityCheck()).toBe("ok");
        const stats = store.stats();
        // Every reported commit of both runs is there; at most the killed transactions are missing.
        expect(stats.facts).toBeGreaterThanOrEqual(first.total + second.total);
        // Transactions are all or nothing: the count is whole batches.
        expect(stats.facts % 25).toBe(0);
        for (const { lastId } of [first, second]) {
          const owner = ["user0", "user1", "user2"].find((user) => store.get(user, lastId) !== undefined);
          expect(owner, `fact ${lastId}`).toBeDefined();
        }
      } finally {
        store.close();
      }
    }, 60_000);
  });
});
