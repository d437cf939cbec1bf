import { spawn } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCliRunner, expectNoStackTrace } from "./cli-helpers.js";
import { ensureTestModel, slowModelOptions } from "./models.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cli = path.join(root, "src", "cli", "main.ts");
// Children run in temp folders, where `--import tsx` would not resolve.
const tsx = pathToFileURL(path.join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;

let dataDir: string;
let tinyModel: string;
const runCli = createCliRunner(() => dataDir);

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "sarai-cli-"));
  tinyModel = await ensureTestModel();
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe("cli", () => {
  describe("basics", () => {
    it("prints the package version", async () => {
      const pkg = JSON.parse(await readFile(path.join(root, "package.json"), "utf8")) as { version: string };
      const result = await runCli(["--version"]);
      expect(result.code).toBe(0);
      expect(result.stdout.trim()).toBe(pkg.version);
    });

    it("has --help on every command", async () => {
      const cases: [string[], string][] = [
        [["--help"], "model"],
        [["ask", "--help"], "--schema"],
        [["chat", "--help"], "--system"],
        [["model", "pull", "--help"], "<source>"],
        [["model", "synth", "--help"], "--draft-for"],
        [["config", "check", "--help"], "validate"],
      ];
      // Independent processes: started together, so a loaded machine does not add up six Node starts.
      const results = await Promise.all(cases.map(([args]) => runCli(args)));
      for (const [index, [, expected]] of cases.entries()) {
        expect(results[index]?.code).toBe(0);
        expect(results[index]?.stdout).toContain(expected);
      }
    });

    it("rejects a bad flag value with a message naming the flag", async () => {
      const result = await runCli(["ask", "--seed", "abc", "hola"]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain("--seed must be an integer");
      expectNoStackTrace(result);
    });
  });

  describe("model synth and ask", () => {
    it("answers the same text for the same seed, twice, from a freshly synthesized model", async () => {
      const synth = await runCli(["model", "synth", "--seed", "3"]);
      expect(synth.code).toBe(0);
      const file = synth.stdout.split("\n")[0] ?? "";
      expect(file).toMatch(/\.gguf$/);
      expect((await stat(file)).size).toBeGreaterThan(10_000);
      const first = await runCli(["ask", "--model", file, "--seed", "1", "hola"]);
      const second = await runCli(["ask", "--model", file, "--seed", "1", "hola"]);
      expect(first.code).toBe(0);
      expect(first.stdout.trim().length).toBeGreaterThan(0);
      expect(second.stdout).toBe(first.stdout);
    });

    it("prints the whole response as JSON with --json", async () => {
      const result = await runCli([
        "ask",
        "--model",
        tinyModel,
        "--seed",
        "2",
        "--max-tokens",
        "5",
        "--json",
        "hi",
      ]);
      expect(result.code).toBe(0);
      const response = JSON.parse(result.stdout) as Record<string, unknown>;
      expect(response["finishReason"]).toMatch(/^(stop|length)$/);
      expect(response["model"]).toBe(tinyModel);
      expect((response["usage"] as { completionTokens: number }).completionTokens).toBeLessThanOrEqual(5);
    });

    it("prints validated JSON with --schema and grammar-shaped text with --grammar", async () => {
      const schemaFile = path.join(dataDir, "schema.json");
      await writeFile(
        schemaFile,
        JSON.stringify({
          type: "object",
          properties: { level: { enum: ["low", "high"] }, ok: { type: "boolean" } },
          required: ["level", "ok"],
          additionalProperties: false,
        }),
      );
      const json = await runCli(["ask", "--model", tinyModel, "--seed", "4", "--schema", schemaFile, "x"]);
      expect(json.code).toBe(0);
      const value = JSON.parse(json.stdout) as { level: string; ok: boolean };
      expect(["low", "high"]).toContain(value.level);
      expect(typeof value.ok).toBe("boolean");

      const grammarFile = path.join(dataDir, "answer.gbnf");
      await writeFile(grammarFile, 'root ::= ("sí" | "no") " " [0-9]{3}\n');
      const shaped = await runCli([
        "ask",
        "--model",
        tinyModel,
        "--seed",
        "4",
        "--grammar",
        grammarFile,
        "x",
      ]);
      expect(shaped.code).toBe(0);
      expect(shaped.stdout.trim()).toMatch(/^(sí|no) [0-9]{3}$/);
    });

    it("refuses an unreadable schema file with a message naming it", async () => {
      const result = await runCli(["ask", "--model", tinyModel, "--schema", "nope.json", "x"]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("--schema: cannot read nope.json");
    });
  });

  describe("model errors", () => {
    it("names a missing model file", async () => {
      const result = await runCli(["ask", "--model", "/nowhere/missing.gguf", "hola"]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("MODEL_NOT_FOUND");
      expect(result.stderr).toContain("/nowhere/missing.gguf");
      expectNoStackTrace(result);
    });

    it("names a truncated model file", async () => {
      const file = path.join(dataDir, "truncated.gguf");
      await copyFile(tinyModel, file);
      await truncate(file, Math.floor((await stat(file)).size / 2));
      const result = await runCli(["ask", "--model", file, "hola"]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("MODEL_TRUNCATED");
      expect(result.stderr).toContain(file);
      expectNoStackTrace(result);
    });

    it("names a file that is not GGUF", async () => {
      const file = path.join(dataDir, "notes.gguf");
      await writeFile(file, "these are my notes, not a model\n".repeat(20));
      const result = await runCli(["ask", "--model", file, "hola"]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("MODEL_INVALID_FILE");
      expect(result.stderr).toContain(file);
      expectNoStackTrace(result);
    });

    it("refuses a model over the RAM budget instead of loading it", async () => {
      const result = await runCli(["ask", "--model", tinyModel, "hola"], {
        env: { SARAI_INFERENCE_RAM_BUDGET_MB: "1" },
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("MODEL_TOO_LARGE");
      expect(result.stderr).toContain("RAM budget of 1 MiB");
      expectNoStackTrace(result);
    });

    it("fails an offline pull quickly and says so", async () => {
      const result = await runCli(["model", "pull", "qwen2.5-0.5b"]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("DOWNLOAD_OFFLINE");
      expect(result.stderr).toMatch(/no network|unreachable/);
      expectNoStackTrace(result);
    }, 30_000);
  });

  describe("config errors", () => {
    const cases: [string, string, RegExp][] = [
      ["unknown key", "log:\n  levle: debug\n", /log\.levle: unknown key/],
      ["wrong type", "inference:\n  threads: many\n", /inference\.threads: .*number/],
      ["bad YAML", "log:\n  level: [info\n", /sarai\.yaml:\d+:\d+/],
    ];
    for (const [name, yaml, expected] of cases) {
      it(`reports ${name} with its path and exits non-zero`, async () => {
        const dir = await mkdtemp(path.join(dataDir, "config-"));
        await writeFile(path.join(dir, "sarai.yaml"), yaml);
        const result = await runCli(["config", "check"], { cwd: dir });
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(expected);
        expectNoStackTrace(result);
      });
    }

    it("names a bad environment override", async () => {
      const result = await runCli(["config", "check"], { env: { SARAI_INFERENCE_THREADS: "lots" } });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("SARAI_INFERENCE_THREADS");
    });

    it("prints the resolved config with env overrides applied", async () => {
      const result = await runCli(["config", "print"], { env: { SARAI_INFERENCE_CONTEXT_SIZE: "1024" } });
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/contextSize: 1024/);
      expect(result.stdout).toContain(`modelsDir: ${path.join(dataDir, "models")}`);
    });
  });

  describe("model list and inspect", () => {
    it("lists models with architecture, quantisation, vocabulary and context, and flags broken files", async () => {
      const dir = await mkdtemp(path.join(dataDir, "models-"));
      await copyFile(tinyModel, path.join(dir, "tiny.gguf"));
      await writeFile(path.join(dir, "broken.gguf"), "not a model");
      const result = await runCli(["model", "list"], { env: { SARAI_PATHS_MODELS_DIR: dir } });
      expect(result.code).toBe(0);
      const tinyLine = result.stdout.split("\n").find((line) => line.startsWith("tiny.gguf"));
      expect(tinyLine).toMatch(/tiny\.gguf\s+\S+ KiB\s+llama\s+Q8_0\s+259\s+4096/);
      expect(result.stdout).toMatch(/broken\.gguf\s+-\s+BROKEN/);
    });

    it("inspects a file", async () => {
      const result = await runCli(["model", "inspect", "--json", tinyModel]);
      expect(result.code).toBe(0);
      const info = JSON.parse(result.stdout) as Record<string, unknown>;
      expect(info).toMatchObject({
        architecture: "llama",
        quantization: "Q8_0",
        vocabularySize: 259,
        blockCount: 2,
      });
    });
  });

  describe("chat and start", () => {
    it("answers each piped line, forgets on /reset and exits at end of input", async () => {
      const result = await runCli(["chat", "--model", tinyModel, "--seed", "1", "--max-tokens", "8"], {
        input: "hola\n/reset\n¿qué tal?\n",
      });
      expect(result.code).toBe(0);
      expect(result.stdout.trim().split("\n").length).toBeGreaterThanOrEqual(2);
      expect(result.stderr).toContain("(conversation cleared)");
    });

    it("runs on a loud demo model when no model can be had, and reports degraded readiness", async () => {
      const start = await runCli(["chat"], {
        input: "hola\n",
        env: { SARAI_INFERENCE_CONTEXT_SIZE: "512" },
      });
      expect(start.code).toBe(0);
      expect(start.stderr).toContain("DEMO MODEL: RANDOM WEIGHTS, ANSWERS ARE NOISE");
      expect(start.stderr).toMatch(/no network|unreachable/);
      expect(start.stdout.trim().length).toBeGreaterThan(0);

      const status = await runCli(["status"]);
      expect(status.code).toBe(0);
      const readiness = JSON.parse(status.stdout) as { ready: boolean; degraded: string[] };
      expect(readiness.ready).toBe(true);
      expect(readiness.degraded).toContain("demo model: random weights, answers are noise");
    }, 120_000);

    it("serves the API as `serve` (what npm start runs) and stops cleanly on SIGTERM", async () => {
      const child = spawn(
        process.execPath,
        ["--import", tsx, cli, "serve", "--port", "0", "--model", tinyModel],
        {
          cwd: dataDir,
          env: { PATH: process.env["PATH"] ?? "", HOME: dataDir, SARAI_PATHS_DATA_DIR: dataDir },
        },
      );
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdout.resume();
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      await waitFor(() => /listening on (http:\/\/127\.0\.0\.1:\d+)/.test(stderr), 60_000);
      const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1] ?? "";
      expect((await fetch(`${base}/health`)).status).toBe(200);
      const ready = (await (await fetch(`${base}/ready`)).json()) as { ready: boolean };
      expect(ready.ready).toBe(true);
      const chat = await fetch(`${base}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: "sarai",
          messages: [{ role: "user", content: "hola" }],
          max_tokens: 4,
          // Greedy: a sampled answer of a random model may end at once, with no text.
          temperature: 0,
        }),
      });
      expect(chat.status).toBe(200);
      const body = (await chat.json()) as { choices: { message: { content: string } }[] };
      expect(body.choices[0]?.message.content.length).toBeGreaterThan(0);
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    }, 90_000);

    it("stops the current answer on SIGINT and keeps the REPL going", async () => {
      const slowModel = await ensureTestModel(slowModelOptions);
      const args = ["chat", "--model", slowModel, "--temperature", "0", "--max-tokens", "4000"];
      const child = spawn(process.execPath, ["--import", tsx, cli, ...args], {
        cwd: dataDir,
        env: { PATH: process.env["PATH"] ?? "", HOME: dataDir, SARAI_PATHS_DATA_DIR: dataDir },
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      child.stdin.write("hola\n");
      await waitFor(() => stdout.length > 0);
      child.kill("SIGINT");
      await waitFor(() => stderr.includes("(answer stopped)") || stderr.includes("error"));
      child.stdin.end("otra\n");
      expect(await exited).toBe(0);
      expect(stderr).toContain("(answer stopped)");
    }, 60_000);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
