/**
 * The Quick start's `npm start` for real: the CLI that `npm run build` leaves in dist/ (not the sources through tsx,
 * which every other CLI test runs) serves the API and the web UI. The two builds share dist/: tsc writes src/'s
 * modules, vite the UI, and once vite emptied a folder tsc had written (dist/web/, src/web/'s modules), so the
 * built server could not start while every test from source passed.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isStale } from "./build-freshness.js";
import { builtCli, startCliServer, type CliServer } from "./cli-process.js";
import { ensureTestModel } from "./models.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const builtUi = path.join(root, "dist", "ui", "index.html");

/** Runs `npm run build` unless dist/ is newer than every file under src/ and web/ (CI's `npm ci` built it). */
async function ensureBuild(): Promise<void> {
  if (!(await isStale([builtCli, builtUi], [path.join(root, "src"), path.join(root, "web")]))) return;
  await promisify(execFile)("npm", ["run", "build"], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
}

describe("npm start (the built CLI)", () => {
  let dir: string;
  let serve: CliServer | undefined;

  beforeAll(async () => {
    const [model] = await Promise.all([ensureTestModel(), ensureBuild()]);
    dir = await mkdtemp(path.join(os.tmpdir(), "sarai-quickstart-"));
    serve = await startCliServer({
      dataDir: dir,
      args: ["serve", "--port", "0", "--model", model],
      env: { SARAI_LOG_FILE: "false", SARAI_INFERENCE_THREADS: "1" },
      startTimeoutMs: 90_000,
      built: true,
    });
  }, 300_000);

  afterAll(async () => {
    await serve?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("keeps the UI's build out of every folder tsc writes", async () => {
    const compiled = (await readdir(path.join(root, "src"), { withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
    expect(compiled).toContain("web");
    expect(compiled).not.toContain(path.basename(path.dirname(builtUi)));
    // What tsc wrote for src/web/ is still there after vite's build.
    expect(existsSync(path.join(root, "dist", "web", "index.js"))).toBe(true);
  });

  it("answers health, chat and the web UI from dist/", async () => {
    const base = serve?.url ?? "";
    expect((await fetch(`${base}/health`)).status).toBe(200);

    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toBe(await readFile(builtUi, "utf8"));
    const script = /<script[^>]+src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${base}${script ?? ""}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toMatch(/javascript/);

    const chat = await fetch(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "sarai", messages: [{ role: "user", content: "hola" }], max_tokens: 4 }),
    });
    const text = await chat.text();
    expect(chat.status, text).toBe(200);
    const body = JSON.parse(text) as { object: string; choices: { message: { role: string } }[] };
    expect(body.object).toBe("chat.completion");
    expect(body.choices[0]?.message.role).toBe("assistant");
  });
});
