/**
 * The learning loop as a user runs it: `sarai keys init`, `sarai serve` on a generated model, feedback over HTTP,
 * `sarai lora train --force`, and the same running server answering with what it was taught; metrics and the audit
 * log record it. Real processes, real HTTP on loopback, a real SQLite file and OpenPGP key.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCliRunner } from "./cli-helpers.js";
import { startCliServer, type CliServer } from "./cli-process.js";
import { factAnswer, factFeedback, learningModel } from "./learning-fixtures.js";

describe("learning loop through sarai serve", () => {
  let dataDir: string;
  let serve: CliServer;
  const cli = createCliRunner(() => dataDir);
  const env = { SARAI_LOG_FILE: "false" };

  const ask = async (content: string) => {
    const response = await fetch(`${serve.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "sarai",
        temperature: 0,
        max_tokens: 24,
        memory: false,
        messages: [{ role: "user", content }],
      }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { choices: { message: { content: string } }[] }).choices[0]?.message
      .content;
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), "sarai-learning-e2e-"));
    await writeFile(
      path.join(dataDir, "sarai.yaml"),
      [
        // The loop's store holds the notification; its schedule does not run in the server here.
        "proactive: { enabled: true, inServer: false }",
        "memory: { enabled: false }",
        "inference: { threads: 1, sequences: 1, contextSize: 1024, speculative: { enabled: false } }",
        "learning: { lora: { maxAnswerTokens: 24 } }",
        "",
      ].join("\n"),
    );
    const keys = await cli(["keys", "init"], { env });
    expect(keys.code, keys.stderr).toBe(0);
    serve = await startCliServer({
      dataDir,
      args: ["serve", "--port", "0", "--model", await learningModel()],
      env,
      startTimeoutMs: 120_000,
    });
  }, 180_000);

  afterAll(async () => {
    await serve?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("learns a correction from feedback and answers with it, without a restart", async () => {
    const bare = await ask("What is the capital of Zorbia?");
    expect(bare).not.toBe(factAnswer);
    for (const row of factFeedback()) {
      const response = await fetch(`${serve.url}/v1/feedback`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          rating: row.rating,
          prompt: row.prompt,
          answer: row.answer,
          correction: row.correction,
          response_id: row.responseId,
        }),
      });
      expect(response.status).toBe(201);
    }

    const train = await cli(["lora", "train", "--force", "--url", serve.url], { env });
    expect(train.code, train.stderr).toBe(0);
    expect(train.stdout).toMatch(/promoted/);
    expect(train.stdout).toMatch(/ok: held-out exact match 0\/2 → 2\/2/);

    expect(await ask("What is the capital of Zorbia?")).toBe(factAnswer);
    expect(await ask("¿Cuál es la capital de Zorbia?")).toBe(factAnswer);

    const status = (await (await fetch(`${serve.url}/v1/lora`)).json()) as {
      active: string | null;
      data: { id: string; status: string; active: boolean }[];
    };
    expect(status.active).toMatch(/^lora-\d{8}-\d{6}-[0-9a-f]{6}$/);
    expect(status.data).toEqual([
      expect.objectContaining({ id: status.active, status: "promoted", active: true }),
    ]);

    const metrics = await (await fetch(`${serve.url}/metrics`)).text();
    expect(metrics).toMatch(/sarai_lora_runs_total\{outcome="promoted"\} 1/);
    expect(metrics).toContain(`sarai_lora_active{adapter="${status.active ?? ""}"} 1`);
    expect(metrics).toMatch(/sarai_lora_step_seconds_count \d+/);

    const notifications = (await (await fetch(`${serve.url}/v1/notifications`)).json()) as {
      data: { kind: string; text: string }[];
    };
    expect(notifications.data).toEqual([
      expect.objectContaining({
        kind: "learning",
        text: expect.stringMatching(
          new RegExp(
            `^LoRA training from 10 examples: promoted adapter ${status.active ?? ""}\\. Held-out NLL`,
          ),
        ) as unknown,
      }),
    ]);

    const auditDir = path.join(dataDir, "logs", "audit");
    const lines = (
      await Promise.all(
        (await readdir(auditDir))
          .filter((file) => file.endsWith(".jsonl"))
          .map((file) => readFile(path.join(auditDir, file), "utf8")),
      )
    )
      .join("")
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as { type: string; target?: string });
    expect(lines.filter((entry) => entry.type === "lora.train").map((entry) => entry.target)).toEqual([
      status.active,
    ]);
    expect(lines.some((entry) => entry.type === "lora.promote" && entry.target === status.active)).toBe(true);
  }, 300_000);
});
