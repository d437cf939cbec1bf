import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCliRunner, expectNoStackTrace, spawnCli } from "./cli-helpers.js";
import { ensureTestModel } from "./models.js";

let dataDir: string;
let main: string;
let draft: string;
const runCli = createCliRunner(() => dataDir);

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "sarai-cli-spec-"));
  main = await ensureTestModel();
  draft = await ensureTestModel({ draftFor: main });
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

interface AskJson {
  text: string;
  timings: { speculative?: { drafted: number; accepted: number; fellBack: boolean; skipped?: string } };
}

describe("cli", () => {
  describe("ask --draft", () => {
    it("answers the same text with a draft, and reports the drafted and kept tokens", async () => {
      const args = ["--no-memory", "--temperature", "0", "--max-tokens", "40", "--json", "Tell me a story"];
      const alone = await runCli(["ask", "--model", main, ...args]);
      const drafted = await runCli(["ask", "--model", main, "--draft", draft, ...args]);
      expect(alone.code, alone.stderr).toBe(0);
      expect(drafted.code, drafted.stderr).toBe(0);
      const a = JSON.parse(alone.stdout) as AskJson;
      const b = JSON.parse(drafted.stdout) as AskJson;
      expect(b.text).toBe(a.text);
      expect(a.timings.speculative).toBeUndefined();
      expect(b.timings.speculative?.drafted).toBeGreaterThan(0);
      expect(b.timings.speculative?.accepted).toBeGreaterThan(0);
    });

    it("refuses a draft with another vocabulary with a clear message, and still answers", async () => {
      const other = await ensureTestModel({ seed: 1, tokenizer: "qwen2" });
      const result = await runCli([
        "ask",
        "--model",
        main,
        "--draft",
        other,
        "--no-memory",
        "--max-tokens",
        "8",
        "--json",
        "hola",
      ]);
      expect(result.code, result.stderr).toBe(0);
      expectNoStackTrace(result);
      expect(result.stderr).toMatch(
        /cannot serve the main model .*: vocabulary .* differ.*; decoding without it/,
      );
      const response = JSON.parse(result.stdout) as AskJson;
      expect(response.timings.speculative?.skipped).toMatch(/cannot serve the main model .*vocabulary/);
    });

    it("refuses an incompatible draft when `serve` starts, before any request", async () => {
      const other = await ensureTestModel({ seed: 1, tokenizer: "qwen2" });
      const child = spawnCli(dataDir, ["serve", "--port", "0", "--model", main, "--draft", other], {
        SARAI_LOG_FILE: "false",
      });
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdout.resume();
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      try {
        const deadline = Date.now() + 60_000;
        while (!stderr.includes("listening on") && Date.now() < deadline) await delay(50);
        const refusal = stderr.indexOf("cannot serve the main model");
        expect(refusal, stderr).toBeGreaterThanOrEqual(0);
        expect(refusal).toBeLessThan(stderr.indexOf("listening on"));
        expect(stderr).toMatch(/vocabulary .* differ.*; decoding without it/);
      } finally {
        child.kill("SIGTERM");
        await exited;
      }
    }, 90_000);
  });
});
