import {
  LlamaCompletion,
  type Llama,
  type LlamaContext,
  type LlamaGrammar,
  type LlamaModel,
} from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createMarkdownGrammar,
  createPythonGrammar,
  createSqlReadOnlyGrammar,
  grammarForJsonSchema,
  jsonGrammar,
} from "../src/skills/grammars/index.js";
import {
  pythonAvailable,
  validateJson,
  validateMarkdown,
  validatePython,
  validateReadOnlySql,
  type ValidationResult,
} from "../src/skills/validators/index.js";
import { ensureTestModel, getTestLlama } from "./models.js";

/**
 * Every grammar, sampled at temperature 1 from the tiny random byte-vocabulary model for 50 seeds: each output
 * must end by itself (the bounded grammar variants make every accepted text finite, so the model reaches the
 * end of the grammar before `maxTokens`) and pass the matching validator. A random model explores the
 * grammar far more widely than a trained one, so this proves the grammar and its validator agree.
 */
const seeds = Array.from({ length: 50 }, (_, i) => i);
const maxTokens = 400;

let llama: Llama;
let model: LlamaModel;
let context: LlamaContext;
let completion: LlamaCompletion;

beforeAll(async () => {
  llama = await getTestLlama();
  model = await llama.loadModel({ modelPath: await ensureTestModel() });
  context = await model.createContext({ contextSize: 512, threads: 1 });
  completion = new LlamaCompletion({ contextSequence: context.getSequence() });
}, 60_000);

afterAll(async () => {
  completion.dispose();
  await context.dispose();
  await model.dispose();
});

async function sample(grammarOrText: string | LlamaGrammar, prompt: string): Promise<string[]> {
  const grammar =
    typeof grammarOrText === "string" ? await llama.createGrammar({ grammar: grammarOrText }) : grammarOrText;
  const texts: string[] = [];
  for (const seed of seeds) {
    const { response, metadata } = await completion.generateCompletionWithMeta(prompt, {
      grammar,
      maxTokens,
      temperature: seed % 2 === 0 ? 0.8 : 1,
      seed,
    });
    expect(metadata.stopReason, `seed ${seed}: ${JSON.stringify(response)}`).not.toBe("maxTokens");
    texts.push(response);
  }
  return texts;
}

async function expectAllValid(
  texts: string[],
  validate: (text: string) => ValidationResult | Promise<ValidationResult>,
): Promise<void> {
  const failures: string[] = [];
  for (const [seed, text] of texts.entries()) {
    const result = await validate(text);
    if (!result.ok) failures.push(`seed ${seed}: ${result.error}\n${text}`);
  }
  expect(failures).toEqual([]);
}

describe("grammars", () => {
  describe("on a random model, 50 seeds each", () => {
    it("json: every output is valid JSON", async () => {
      const texts = await sample(
        jsonGrammar({ maxDepth: 3, maxItems: 3, maxStringLength: 8, maxWhitespace: 1 }),
        "{",
      );
      await expectAllValid(texts, (text) => validateJson(text));
    }, 60_000);

    it("json schema: every output matches the schema", async () => {
      const schema = {
        type: "object",
        properties: {
          name: { type: "string", maxLength: 8 },
          age: { type: "integer" },
          tags: { type: "array", items: { enum: ["a", "b", "c"] }, maxItems: 3 },
          ok: { type: "boolean" },
        },
        required: ["name", "age", "tags", "ok"],
        additionalProperties: false,
      } as const;
      const grammar = await grammarForJsonSchema(llama, schema);
      const texts = await sample(grammar, "{");
      await expectAllValid(texts, (text) => validateJson(text, schema));
    }, 60_000);

    it("sqlReadOnly: every output is one read-only query node-sql-parser accepts", async () => {
      const grammar = createSqlReadOnlyGrammar({
        maxIdentifierLength: 6,
        maxStringLength: 6,
        maxDigits: 3,
        maxItems: 2,
        maxExpressionDepth: 1,
        maxSubqueryDepth: 1,
      });
      const texts = await sample(grammar, "SQL: ");
      await expectAllValid(texts, validateReadOnlySql);
    }, 60_000);

    it.skipIf(!pythonAvailable())(
      "python: every output parses with python3 and passes the checks",
      async () => {
        const grammar = createPythonGrammar({
          maxBlockDepth: 2,
          maxStatements: 2,
          maxExpressionDepth: 1,
          maxItems: 2,
          maxNameLength: 5,
          maxStringLength: 5,
        });
        const texts = await sample(grammar, "# code\n");
        await expectAllValid(texts, validatePython);
      },
      60_000,
    );

    it("markdown: every output parses as Markdown with at least one block", async () => {
      const grammar = createMarkdownGrammar({ maxBlocks: 3, maxLines: 3, maxTextLength: 12, maxInlines: 2 });
      const texts = await sample(grammar, "Notes:\n");
      await expectAllValid(texts, validateMarkdown);
    }, 60_000);
  });
});
