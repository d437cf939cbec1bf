import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectErrorBody, startTestServer, type TestServer } from "./api-helpers.js";

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({ skills: { retries: 1 } });
}, 120_000);
afterAll(() => ts.close());

async function post(path: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${ts.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** Short answers the grammar forces: random weights finish them well within maxTokens. */
const answerSchema = {
  type: "object",
  properties: { level: { enum: ["low", "high"] }, ok: { type: "boolean" } },
  required: ["level", "ok"],
  additionalProperties: false,
};

interface SkillRun {
  skill: string;
  output: string;
  value: unknown;
  attempts: number;
  errors: string[];
}

describe("api", () => {
  describe("skills", () => {
    it("lists the built-in skills with their output kind", async () => {
      const response = await fetch(`${ts.url}/v1/skills`);
      expect(response.status).toBe(200);
      const body = (await response.json()) as { object: string; data: Record<string, unknown>[] };
      expect(body.object).toBe("list");
      expect(body.data.map((skill) => skill.name)).toEqual([
        "json_extract",
        "extract_entities",
        "sql_query",
        "summarize_markdown",
        "python_code",
      ]);
      expect(body.data[0]).toMatchObject({ output: "json", accepts_schema: true });
      for (const skill of body.data) expect(String(skill["description"]).length).toBeGreaterThan(10);
    });

    it("runs json_extract under a schema: 200 with JSON that parses and validates", async () => {
      for (const seed of [1, 2, 3]) {
        const { status, body } = await post("/v1/skills/json_extract", {
          input: "The level is high and it is ok.",
          schema: answerSchema,
          seed,
        });
        expect(status, JSON.stringify(body)).toBe(200);
        const run = body as SkillRun;
        expect(run.skill).toBe("json_extract");
        const parsed = JSON.parse(run.output) as { level: string; ok: boolean };
        expect(run.value).toEqual(parsed);
        expect(["low", "high"]).toContain(parsed.level);
        expect(typeof parsed.ok).toBe("boolean");
        expect(run.attempts).toBeGreaterThanOrEqual(1);
      }
    });

    it("answers 404 for an unknown skill name and 400 for an unknown chat skill", async () => {
      const unknown = await post("/v1/skills/nope", { input: "x" });
      expect(unknown.status).toBe(404);
      expect(expectErrorBody(unknown.body, "not_found").error.message).toMatch(/json_extract/);
      const chat = await post("/v1/chat/completions", {
        model: ts.modelId,
        skill: "nope",
        messages: [{ role: "user", content: "hi" }],
      });
      expect(chat.status).toBe(400);
      expect(expectErrorBody(chat.body, "invalid_request").error.param).toBe("skill");
      const bad = await post("/v1/skills/json_extract", { input: "" });
      expect(bad.status).toBe(400);
    });

    it("answers 422 SKILL_OUTPUT_INVALID when every attempt is invalid, never 200", async () => {
      // No output can finish: the schema needs a longer string than json_extract's maxTokens allows.
      const schema = {
        type: "object",
        properties: { text: { type: "string", minLength: 900 } },
        required: ["text"],
        additionalProperties: false,
      };
      const { status, body } = await post("/v1/skills/json_extract", { input: "write", schema, seed: 3 });
      expect(status).toBe(422);
      const { error } = expectErrorBody(body, "skill_output_invalid");
      expect(error.message).toMatch(/json_extract.*2 attempts.*max_?tokens/i);
      expect(error.type).toBe("server_error");
    });

    it("answers a chat turn with a skill: the text is the validated output, sarai.skill has the value", async () => {
      const { status, body } = await post("/v1/chat/completions", {
        model: ts.modelId,
        skill: "json_extract",
        seed: 2,
        messages: [{ role: "user", content: "level high, ok" }],
        response_format: { type: "json_schema", json_schema: { name: "answer", schema: answerSchema } },
      });
      expect(status, JSON.stringify(body)).toBe(200);
      const completion = body as {
        choices: { message: { content: string }; finish_reason: string }[];
        sarai: { skill: { name: string; attempts: number; value: unknown } };
      };
      const content = completion.choices[0]?.message.content ?? "";
      expect(completion.sarai.skill).toMatchObject({
        name: "json_extract",
        value: JSON.parse(content) as unknown,
      });
      expect(completion.choices[0]?.finish_reason).toBe("stop");
    });

    it("streams a skill turn as one delta with the validated output, then the finish chunk", async () => {
      const response = await fetch(`${ts.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: ts.modelId,
          skill: "json_extract",
          stream: true,
          seed: 1,
          messages: [{ role: "user", content: "level low" }],
          response_format: { type: "json_schema", json_schema: { name: "answer", schema: answerSchema } },
        }),
      });
      expect(response.status).toBe(200);
      const events = (await response.text())
        .split("\n\n")
        .filter((event) => event !== "" && event !== "data: [DONE]")
        .map(
          (event) =>
            JSON.parse(event.slice(6)) as { choices: { delta: { content?: string } }[]; sarai?: unknown },
        );
      const contents = events
        .map((event) => event.choices[0]?.delta.content)
        .filter((c) => c !== undefined && c !== "");
      expect(contents).toHaveLength(1);
      expect(JSON.parse(contents[0] as string)).toMatchObject({
        level: expect.stringMatching(/^(low|high)$/) as unknown,
      });
      expect(events.at(-1)?.sarai).toMatchObject({ skill: { name: "json_extract" } });
    });

    it("runs extract_entities and stores the facts for the calling user", async () => {
      let stored: number[] | undefined;
      for (let seed = 1; seed <= 4 && stored === undefined; seed++) {
        const { status, body } = await post("/v1/skills/extract_entities", {
          input: "Mi hermana Lucía vive en Madrid.",
          user: "erin",
          seed,
        });
        expect([200, 422]).toContain(status);
        if (status === 200) stored = ((body as SkillRun).value as { stored: number[] }).stored;
      }
      // The rule extractor's facts are merged in, so a valid answer always stores some.
      expect(stored?.length).toBeGreaterThanOrEqual(1);
      for (const id of stored ?? []) {
        expect((await fetch(`${ts.url}/v1/memory/facts/${id}?user=erin`)).status).toBe(200);
        expect((await fetch(`${ts.url}/v1/memory/facts/${id}?user=someone-else`)).status).toBe(404);
      }
    });

    it("runs sql_query over the calling user's facts only", async () => {
      for (const [user, object] of [
        ["alice", "Madrid"],
        ["bob", "Oslo-secret"],
      ] as const) {
        const added = await post("/v1/memory/facts", { user, subject: "user", relation: "lives_in", object });
        expect(added.status).toBe(201);
      }
      // Random weights rarely write a query that names facts; whatever they write, bob's row never shows.
      for (const seed of [1, 2, 3, 4]) {
        const { status, body } = await post("/v1/skills/sql_query", {
          input: "Where do I live?",
          user: "alice",
          seed,
        });
        expect([200, 422]).toContain(status);
        expect(JSON.stringify(body)).not.toContain("Oslo-secret");
        if (status === 200)
          expect((body as SkillRun).value).toMatchObject({ columns: expect.any(Array) as unknown });
      }
    });
  });
});
