import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCliRunner, expectNoStackTrace } from "./cli-helpers.js";
import { ensureTestModel } from "./models.js";

let dataDir: string;
let main: string;
const runCli = createCliRunner(() => dataDir);

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "sarai-cli-reflect-"));
  main = await ensureTestModel();
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

interface AskJson {
  text: string;
  reflection?: {
    iterations: {
      n: number;
      response: string;
      confidence: number | null;
      signals: { verifiers?: unknown[] };
    }[];
    chosen: number;
    stoppedBy: string;
  };
}

describe("cli", () => {
  describe("ask --reflect", () => {
    it("reflects with a verifier, prints the kept answer and the iterations on stderr", async () => {
      const result = await runCli([
        "ask",
        "--model",
        main,
        "--no-memory",
        "--temperature",
        "0",
        "--max-tokens",
        "24",
        "--verify",
        "python",
        "--max-iterations",
        "2",
        "--show-iterations",
        "--json",
        "Write a function that adds two numbers",
      ]);
      expect(result.code, result.stderr).toBe(0);
      const response = JSON.parse(result.stdout) as AskJson;
      const reflection = response.reflection;
      expect(reflection?.iterations.length).toBeGreaterThanOrEqual(1);
      expect(reflection?.iterations.length).toBeLessThanOrEqual(2);
      expect(reflection?.iterations[0]?.signals.verifiers).toHaveLength(1);
      expect(response.text).toBe(reflection?.iterations[(reflection.chosen ?? 1) - 1]?.response);
      expect(result.stderr).toMatch(/^\* iteration \d: confidence \d\.\d\d, python (ok|failed)/m);
      expect(result.stderr).toMatch(/reflection: kept iteration \d of \d/);
    });

    it("answers plainly without --reflect", async () => {
      const result = await runCli([
        "ask",
        "--model",
        main,
        "--no-memory",
        "--max-tokens",
        "8",
        "--json",
        "hola",
      ]);
      expect(result.code, result.stderr).toBe(0);
      expect((JSON.parse(result.stdout) as AskJson).reflection).toBeUndefined();
    });

    it("exits 2 on a bad --verify or --max-iterations, before loading a model", async () => {
      for (const [args, message] of [
        [["--verify", "lua"], /--verify: must be json, sql or python/],
        [["--max-iterations", "4"], /--max-iterations: must be 1, 2 or 3/],
      ] as const) {
        const result = await runCli(["ask", "--model", main, ...args, "hola"]);
        expect(result.code).toBe(2);
        expect(result.stderr).toMatch(message);
        expectNoStackTrace(result);
      }
    });
  });
});
