import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config/index.js";
import { JobStore } from "../src/proactive/index.js";
import { waitFor } from "./api-helpers.js";
import { createCliRunner, expectNoStackTrace } from "./cli-helpers.js";

let dataDir: string;
let database: string;
const runCli = createCliRunner(() => dataDir);
const env = () => ({ HOME: dataDir, SARAI_PATHS_DATA_DIR: dataDir });

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "sarai-cli-notifications-"));
  database = loadConfig({ env: env(), cwd: dataDir }).config.proactive.database;
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

/** Delivers a notification the way the loop does. */
function deliver(userId: string, text: string, createdAt: number): void {
  const store = JobStore.open({ file: database });
  try {
    const result = store.notifyIfIdle(
      { userId, kind: "suggestion", text, data: { factIds: [1] }, createdAt },
      { idleSince: createdAt, maxPerHour: 60 },
    );
    expect(result.delivered).toBe(true);
  } finally {
    store.close();
  }
}

describe("cli", () => {
  describe("notifications", () => {
    it("says there are none without creating the loop database", async () => {
      const result = await runCli(["notifications", "--user", "ana"]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe("no notifications for ana\n");
      expect(existsSync(database)).toBe(false);
      const json = await runCli(["notifications", "--json"]);
      expect(JSON.parse(json.stdout)).toEqual([]);
    });

    it("prints the user's newest ones as text or JSON, and pages with --after", async () => {
      const at = Date.UTC(2026, 10, 24, 10, 5);
      deliver("ana", "Tu cumpleaños es el viernes: ¿preparo una lista?", at);
      deliver("bob", "Dentist tomorrow at 10.", at);
      deliver("ana", "Mañana tienes el dentista.", at + 60_000);

      const text = await runCli(["notifications", "-u", "ana"]);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toBe(
        "#1  2026-11-24 10:05  suggestion  Tu cumpleaños es el viernes: ¿preparo una lista?\n" +
          "#3  2026-11-24 10:06  suggestion  Mañana tienes el dentista.\n",
      );
      const newest: unknown = JSON.parse(
        (await runCli(["notifications", "-u", "ana", "--limit", "1", "--json"])).stdout,
      );
      expect(newest).toEqual([
        {
          id: 3,
          user: "ana",
          kind: "suggestion",
          text: "Mañana tienes el dentista.",
          data: { factIds: [1] },
          created_at: "2026-11-24T10:06:00.000Z",
        },
      ]);
      const after: unknown = JSON.parse(
        (await runCli(["notifications", "-u", "ana", "--after", "3", "--json"])).stdout,
      );
      expect(after).toEqual([]);
    });

    it("refuses a bad --limit as a usage error", async () => {
      const result = await runCli(["notifications", "--limit", "0"]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/--limit must be a whole number from 1 to 1000/);
      expectNoStackTrace(result);
    });

    it("--follow prints new ones as they arrive and stops on SIGTERM", async () => {
      const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
      const tsx = pathToFileURL(path.join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;
      const child = spawn(
        process.execPath,
        [
          "--import",
          tsx,
          path.join(root, "src", "cli", "main.ts"),
          "notifications",
          "-u",
          "bob",
          "-f",
          "--json",
        ],
        { cwd: dataDir, env: { PATH: process.env["PATH"] ?? "", ...env() } },
      );
      let stdout = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      try {
        await waitFor("the backlog", () => stdout.includes("Dentist tomorrow"), 20_000);
        deliver("bob", "Pack for Rome.", Date.UTC(2026, 10, 24, 11, 0));
        await waitFor("the new notification", () => stdout.includes("Pack for Rome."), 10_000);
        const lines = stdout
          .trim()
          .split("\n")
          .map((line) => JSON.parse(line) as { text: string });
        expect(lines.map((l) => l.text)).toEqual(["Dentist tomorrow at 10.", "Pack for Rome."]);
      } finally {
        child.kill("SIGTERM");
      }
      expect(await exited).toBe(0);
    });
  });
});
