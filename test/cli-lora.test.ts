import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config/index.js";
import { AdapterArchive } from "../src/learning/index.js";
import { generateSigningKey, loadSigningKey } from "../src/security/index.js";
import { createCliRunner, expectNoStackTrace } from "./cli-helpers.js";
import { startCliServer, type CliServer } from "./cli-process.js";
import { ensureTestModel } from "./models.js";

describe("cli", () => {
  describe("lora", () => {
    let dataDir: string;
    let serve: CliServer;
    let url: string;
    const cli = createCliRunner(() => dataDir);
    const env = { SARAI_LOG_FILE: "false" };
    const lora = (...args: string[]) => cli(["lora", ...args, "--url", url], { env });

    beforeAll(async () => {
      dataDir = await mkdtemp(path.join(os.tmpdir(), "sarai-cli-lora-"));
      await writeFile(path.join(dataDir, "sarai.yaml"), "proactive: { enabled: false }\n");
      serve = await startCliServer({
        dataDir,
        args: ["serve", "--port", "0", "--model", await ensureTestModel()],
        env,
        startTimeoutMs: 120_000,
      });
      url = serve.url;
    }, 150_000);

    afterAll(async () => {
      await serve?.stop();
      await rm(dataDir, { recursive: true, force: true });
    });

    it("lists no adapter and reports the bare model on a fresh server", async () => {
      const [list, json, status, statusJson] = await Promise.all([
        lora("list"),
        lora("list", "--json"),
        lora("status"),
        lora("status", "--json"),
      ]);
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout).toBe("no adapters yet (`sarai lora train` makes one)\n");
      expect(json.code, json.stderr).toBe(0);
      expect(json.stdout).toBe("");
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toBe(
        [
          "adapter in use: none (the bare model)",
          "before it: none",
          "last run: none yet",
          "archive: 0 adapters",
          "",
        ].join("\n"),
      );
      expect(JSON.parse(statusJson.stdout)).toEqual({
        object: "lora.status",
        active: null,
        previous: null,
        running: false,
        last_run: null,
        data: [],
      });
    }, 60_000);

    it("prints a skipped run's reason", async () => {
      const result = await lora("train");
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe(
        "skipped: 0 new feedback since the last run; learning.minNewFeedback is 5\n",
      );
      const forced = await lora("train", "--force", "--json");
      expect(forced.code, forced.stderr).toBe(0);
      expect(JSON.parse(forced.stdout)).toMatchObject({
        object: "lora.training",
        outcome: "skipped",
        reason: "0 training examples; learning.minExamples is 3",
      });
      const status = await lora("status");
      expect(status.stdout).toMatch(
        /^last run: \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z skipped \(0 training examples; learning\.minExamples is 3\)$/m,
      );
    }, 60_000);

    it("refuses to promote an id the archive does not hold: exit 1 and the server's reason", async () => {
      const result = await lora("promote", "lora-20260101-000000-abcdef");
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr).toBe(
        "sarai: error [ADAPTER_NOT_FOUND]: no adapter lora-20260101-000000-abcdef in the archive (sarai lora list)\n",
      );
      const none = await lora("promote", "none");
      expect(none.code, none.stderr).toBe(0);
      expect(none.stdout).toBe("adapter in use: none (the bare model)\n");
    }, 60_000);

    it("refuses a rollback with nothing to roll back: exit 1 and why", async () => {
      const result = await lora("rollback");
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr).toMatch(/^sarai: error \[INVALID_REQUEST\]: .*nothing to roll back\n$/);
      expectNoStackTrace(result);
    }, 60_000);

    it("lists the archive newest first with the held-out NLL before and after", async () => {
      // Archived the way a run archives (signed), without a run: the list reads the archive as it is on disk.
      const { config } = loadConfig({ env: { HOME: dataDir, SARAI_PATHS_DATA_DIR: dataDir }, cwd: dataDir });
      const keyFile = path.join(dataDir, "test-signing-key.asc");
      await writeFile(keyFile, (await generateSigningKey()).privateKey, { mode: 0o600 });
      const archive = await AdapterArchive.open({
        dir: path.join(config.learning.lora.dir, "adapters"),
        signingKey: await loadSigningKey(keyFile),
      });
      const adapterFile = path.join(dataDir, "adapter.gguf");
      const base = Date.UTC(2026, 11, 7, 3, 15);
      const stored = [];
      for (const [index, status] of (["refused", "candidate"] as const).entries()) {
        await writeFile(adapterFile, `adapter ${index}`);
        stored.push(
          await archive.store(adapterFile, {
            baseModel: "sarai-synth.gguf",
            baseModelSha256: "0".repeat(64),
            rank: 16,
            alpha: 16,
            examples: 10 + index,
            metrics: { heldOutNllBefore: 2.5, heldOutNllAfter: 2.75 - index },
            status,
            createdAt: base + index * 60_000,
          }),
        );
      }

      const list = await lora("list");
      expect(list.code, list.stderr).toBe(0);
      const lines = list.stdout.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^ {3}id\s+created\s+status\s+examples\s+held-out NLL$/);
      expect(lines[1]).toMatch(
        new RegExp(`^ {3}${stored[1]?.id}\\s+2026-12-07T03:16:00Z\\s+candidate\\s+11\\s+2\\.500 → 1\\.750$`),
      );
      expect(lines[2]).toMatch(
        new RegExp(`^ {3}${stored[0]?.id}\\s+2026-12-07T03:15:00Z\\s+refused\\s+10\\s+2\\.500 → 2\\.750$`),
      );
      expect(lines).toHaveLength(3);

      const json = await lora("list", "--json");
      const entries = json.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(entries.map((entry) => entry["id"])).toEqual([stored[1]?.id, stored[0]?.id]);
      expect(entries[0]).toMatchObject({
        object: "lora.adapter",
        status: "candidate",
        examples: 11,
        active: false,
        metrics: { heldOutNllBefore: 2.5, heldOutNllAfter: 1.75 },
      });
    }, 60_000);

    it("says no server is running, and how to start one, once it has stopped", async () => {
      await serve.stop();
      const commands = [["list"], ["train", "--force"], ["promote", "none"]];
      const results = await Promise.all(commands.map((args) => lora(...args)));
      for (const [index, result] of results.entries()) {
        expect(result.code, commands[index]?.join(" ")).toBe(1);
        expect(result.stdout).toBe("");
        expect(result.stderr).toBe(
          `sarai: error [UPSTREAM_UNAVAILABLE]: no SARAi server is running at ${url} (ECONNREFUSED); ` +
            "start it with `sarai serve`, or name another with --url\n",
        );
      }
    }, 60_000);
  });
});
