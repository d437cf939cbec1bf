import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCliRunner, expectNoStackTrace } from "./cli-helpers.js";
import { ensureTestModel } from "./models.js";

let dataDir: string;
let tinyModel: string;
let answerSchema: string;
const run = createCliRunner(() => dataDir);
// One thread: more than there are idle cores makes llama.cpp spin.
const env = { SARAI_INFERENCE_THREADS: "1", SARAI_INFERENCE_CONTEXT_SIZE: "1024" };

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "sarai-cli-skills-"));
  tinyModel = await ensureTestModel();
  answerSchema = path.join(dataDir, "answer.json");
  await writeFile(
    answerSchema,
    JSON.stringify({
      type: "object",
      properties: { level: { enum: ["low", "high"] }, ok: { type: "boolean" } },
      required: ["level", "ok"],
      additionalProperties: false,
    }),
  );
}, 120_000);
afterAll(() => rm(dataDir, { recursive: true, force: true }));

describe("cli", () => {
  describe("skill", () => {
    it("lists the skills with their output kind, as text and as JSON", async () => {
      const text = await run(["skill", "list"]);
      expect(text.code, text.stderr).toBe(0);
      for (const name of [
        "json_extract",
        "extract_entities",
        "sql_query",
        "summarize_markdown",
        "python_code",
      ])
        expect(text.stdout).toMatch(new RegExp(`^${name}\\s+\\w+\\s+\\S`, "m"));
      const json = await run(["skill", "list", "--json"]);
      expect(JSON.parse(json.stdout)).toEqual(
        expect.arrayContaining([expect.objectContaining({ name: "sql_query", output: "sql" })]),
      );
    });

    it("exits 2 with the known names for an unknown skill, before loading a model", async () => {
      const result = await run(["skill", "run", "nope", "hola"]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/unknown skill "nope"; available: json_extract/);
      expectNoStackTrace(result);
    });

    it("runs json_extract under a schema and prints the validated result as JSON", async () => {
      const result = await run(
        [
          "skill",
          "run",
          "json_extract",
          "level high",
          "--model",
          tinyModel,
          "--schema",
          answerSchema,
          "--json",
          "--seed",
          "4",
        ],
        { env },
      );
      expect(result.code, result.stderr).toBe(0);
      const body = JSON.parse(result.stdout) as {
        skill: string;
        output: string;
        value: unknown;
        attempts: number;
      };
      expect(body.skill).toBe("json_extract");
      expect(body.value).toEqual(JSON.parse(body.output));
      expect(["low", "high"]).toContain((body.value as { level: string }).level);
    });

    it("exits 1 with SKILL_OUTPUT_INVALID when no attempt is valid", async () => {
      const impossible = path.join(dataDir, "impossible.json");
      await writeFile(
        impossible,
        JSON.stringify({
          type: "object",
          properties: { text: { type: "string", minLength: 900 } },
          required: ["text"],
        }),
      );
      const result = await run(
        [
          "skill",
          "run",
          "json_extract",
          "write",
          "--model",
          tinyModel,
          "--schema",
          impossible,
          "--seed",
          "1",
        ],
        { env: { ...env, SARAI_SKILLS_RETRIES: "0" } },
      );
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr).toMatch(
        /\[SKILL_OUTPUT_INVALID\]: skill "json_extract" produced no valid output in 1 attempt/,
      );
      expectNoStackTrace(result);
    });

    it("answers `ask --skill` with the skill's validated output, and refuses an unknown skill", async () => {
      const result = await run(
        [
          "ask",
          "--model",
          tinyModel,
          "--skill",
          "json_extract",
          "--schema",
          answerSchema,
          "--seed",
          "2",
          "level low",
        ],
        { env },
      );
      expect(result.code, result.stderr).toBe(0);
      expect(["low", "high"]).toContain((JSON.parse(result.stdout) as { level: string }).level);
      const unknown = await run(["ask", "--model", tinyModel, "--skill", "nope", "hola"], { env });
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toMatch(/\[INVALID_REQUEST\]: unknown skill "nope"/);
    });
  });
});
