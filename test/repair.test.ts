/**
 * Self-repair on a running server: a real app and HTTP server over loopback, the main model downloaded from a
 * Hugging Face mirror on loopback, a real pino logger feeding the detectors, real files broken under it.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { statfsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "../src/api/index.js";
import { createApp, type App } from "../src/app.js";
import { createConfigStore, type ConfigStore } from "../src/config/index.js";
import { LogTap } from "../src/repair/index.js";
import { generateSigningKey, loadSigningKey, signFile } from "../src/security/index.js";
import { createLogger, type AppLogger } from "../src/shared/index.js";
import { startFakeHfMirror, type FakeHfMirror } from "./fake-hf-mirror.js";
import { ensureTestModel, getTestLlama } from "./models.js";

const hfPath = "/sarai-test/tiny-GGUF/resolve/main/sarai-test-tiny-q8_0.gguf";
const hfSource = "hf:sarai-test/tiny-GGUF/sarai-test-tiny-q8_0.gguf";

let tiny: string;
let fallback: string;

beforeAll(async () => {
  tiny = await ensureTestModel();
  fallback = await ensureTestModel({ seed: 5 });
});

interface Running {
  app: App;
  server: Server;
  url: string;
  dataDir: string;
  configFile: string;
  store: ConfigStore;
  logger: AppLogger;
  mirror: FakeHfMirror;
}

let running: Running | undefined;

afterEach(async () => {
  const current = running;
  running = undefined;
  if (current === undefined) return;
  await current.server.close();
  current.store.dispose();
  await current.app.dispose();
  await current.logger.dispose();
  await current.mirror.close();
  await rm(current.dataDir, { recursive: true, force: true });
});

async function start(
  main: (dataDir: string) => string,
  yaml = "",
  startLoop = true,
  repairYaml = "",
): Promise<Running> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "sarai-repair-"));
  const mirror = await startFakeHfMirror(new Map([[hfPath, tiny]]));
  const configFile = path.join(dataDir, "sarai.yaml");
  await writeFile(
    configFile,
    [
      "server:\n  port: 0\n  rateLimitPerMinute: 0",
      "log:\n  level: info\n  file: false",
      `models:\n  main: ${main(dataDir)}\n  huggingFaceEndpoint: ${mirror.endpoint}\n  fallback: ${fallback}`,
      "redteam:\n  enabled: false",
      `repair:\n  verifyMs: 1500\n  cooldownMs: 0\n  windowMs: 60000\n${repairYaml}`,
      yaml,
    ].join("\n") + "\n",
  );
  const env = { HOME: dataDir, SARAI_PATHS_DATA_DIR: dataDir };
  const logTap = new LogTap();
  const store = createConfigStore({
    file: configFile,
    cwd: dataDir,
    env,
    logger: (await createLogger({ level: "silent", console: "off", maxSizeMb: 1, maxFiles: 1 })).logger,
  });
  const logger = await createLogger({
    level: "info",
    console: "off",
    maxSizeMb: 1,
    maxFiles: 1,
    tap: logTap,
  });
  const app = await createApp({
    config: store.current,
    logger: logger.logger,
    configStore: store,
    logTap,
    llama: await getTestLlama(),
  });
  const server = await createServer({
    app,
    logger: logger.logger,
    requestTimeoutMs: () => store.current.server.requestTimeoutMs,
  });
  const url = await server.listen();
  // As `sarai serve` does with proactive.inServer: a loop that never started would itself be a fault.
  if (startLoop) app.loop?.start();
  running = { app, server, url, dataDir, configFile, store, logger, mirror };
  return running;
}

async function chat(
  url: string,
  content: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "sarai", messages: [{ role: "user", content }], max_tokens: 4 }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function rememberFacts(app: App): number {
  const memory = app.memory!;
  for (const [relation, object] of [
    ["lives_in", "Bilbao"],
    ["works_at", "Osakidetza"],
  ] as const)
    memory.store.remember({
      userId: "ane",
      subject: "user",
      relation,
      object,
      source: "manual",
      confidence: 0.95,
    });
  return memory.store.recall({ userId: "ane", limit: 100 }).length;
}

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Replaces a file the way a bad copy does (a new inode), so the loaded model keeps its mapping. */
async function replaceWith(file: string, bytes: Buffer): Promise<void> {
  await writeFile(`${file}.new`, bytes);
  await rename(`${file}.new`, file);
}

describe("self-repair on a running server", () => {
  it("downloads a corrupt pulled model again (level 3), checks its hash, and keeps memory", async () => {
    const { app, url, dataDir, mirror } = await start(() => hfSource);
    const facts = rememberFacts(app);
    expect((await chat(url, "hola")).status).toBe(200);
    const modelsDir = path.join(dataDir, "models");
    const file = path.join(
      modelsDir,
      (await readdir(modelsDir)).find((name) => name.endsWith(".gguf"))!,
    );
    const good = await readFile(file);
    await app.repair!.repairer.check(); // the start's hashing is done once a pass has probed
    const downloads = mirror.downloads.length;
    await replaceWith(file, good.subarray(0, 1000));

    const records = await app.repair!.repairer.check();
    expect(records.map((r) => [r.fault, r.target, r.level, r.result])).toEqual([
      ["corrupt_model", "main", 3, "repaired"],
    ]);
    expect(records[0]!.action).toBe("download the main model again and check it");
    expect(sha256(await readFile(file))).toBe(sha256(good));
    expect(mirror.downloads.length).toBeGreaterThan(downloads);
    expect((await chat(url, "¿sigues ahí?")).status).toBe(200);
    expect(app.memory!.store.recall({ userId: "ane", limit: 100 })).toHaveLength(facts);
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(
      /sarai_repair_attempts_total\{level="3",result="repaired"\} 1/,
    );
    const notices = app.loop!.notifications("admin");
    expect(notices.map((n) => [n.kind, n.text])).toEqual([
      ["repair", "Repaired corrupt_model (main): download the main model again and check it"],
    ]);
  });

  it("serves a corrupt local model's role from the fallback until the file is fixed (level 3 workaround)", async () => {
    const { app, url, dataDir } = await start((dir) => path.join(dir, "main.gguf"));
    const file = path.join(dataDir, "main.gguf");
    await copyFile(tiny, file);
    // The file did not exist when the test wrote the config: wait for the start's hash of the copy.
    await app.repair!.repairer.check();
    const good = await readFile(file);
    const broken = Buffer.from(good);
    broken.fill(0, 0, 4);
    await replaceWith(file, broken);

    const [record] = await app.repair!.repairer.check();
    expect(record).toMatchObject({ fault: "corrupt_model", level: 3, result: "repaired" });
    expect(record!.action).toBe("serve the main role with the fallback model");
    expect(app.repair!.repairer.status().workarounds).toEqual([
      { fault: "corrupt_model", target: "main", description: "serve the main role with the fallback model" },
    ]);
    const loaded = async (role: string) =>
      (await app.pool.detailedStatus()).find((status) => status.role === role)?.loaded;
    expect(await loaded("fallback")).toBe(false);
    expect((await chat(url, "hola")).status).toBe(200);
    // The fallback model was loaded to answer for the main role.
    expect(await loaded("fallback")).toBe(true);
    // While the file stays broken the workaround holds and nothing is tried again.
    expect(await app.repair!.repairer.check()).toEqual([]);

    await replaceWith(file, good);
    expect(await app.repair!.repairer.check()).toEqual([]);
    expect(app.repair!.repairer.status().workarounds).toEqual([]);
    expect((await chat(url, "hola")).status).toBe(200);
  });

  it("undoes a bad value hot-loaded from the config file (level 1), in the file", async () => {
    const { app, url, configFile, store } = await start(() => tiny, "inference:\n  contextSize: 2048");
    const facts = rememberFacts(app);
    const long = "palabra ".repeat(40);
    expect((await chat(url, long)).status).toBe(200);
    const original = await readFile(configFile, "utf8");
    await writeFile(configFile, original.replace("contextSize: 2048", "contextSize: 64"));
    expect(store.reload().ok).toBe(true);
    for (let i = 0; i < 3; i++) expect((await chat(url, long)).status).toBe(400);

    const [record] = await app.repair!.repairer.check();
    expect(record).toMatchObject({ fault: "context_overflow", level: 1, result: "repaired" });
    expect(record!.action).toBe("undo the config change made just before the fault (inference.contextSize)");
    expect(store.current.inference.contextSize).toBe(2048);
    expect(await readFile(configFile, "utf8")).toContain("contextSize: 2048");
    expect((await chat(url, long)).status).toBe(200);
    expect(app.memory!.store.recall({ userId: "ane", limit: 100 })).toHaveLength(facts);
  });

  it("frees disposable disk space when the disk is nearly full, and says when nothing can be freed", async () => {
    const { app, dataDir, store } = await start(() => tiny);
    const junk = path.join(dataDir, "cache", "downloads");
    await mkdir(junk, { recursive: true });
    await writeFile(path.join(junk, "partial.bin"), Buffer.alloc(64 * 2 ** 20, 7));
    const freeMb = () => {
      const stats = statfsSync(dataDir);
      return Math.floor((stats.bavail * stats.bsize) / 2 ** 20);
    };
    expect(store.apply({ repair: { thresholds: { minFreeDiskMb: freeMb() + 32 } } }).ok).toBe(true);

    const [freed] = await app.repair!.repairer.check();
    expect(freed).toMatchObject({ fault: "disk_full", level: 1, result: "repaired", rolledBack: false });
    expect(freed!.detail).toMatch(/freed 6\d MiB/);
    await expect(readdir(junk)).rejects.toThrow();

    expect(store.apply({ repair: { thresholds: { minFreeDiskMb: freeMb() + 1024 } } }).ok).toBe(true);
    const [nothing] = await app.repair!.repairer.check();
    expect(nothing).toMatchObject({ fault: "disk_full", result: "reverted", rolledBack: false });
    expect(app.loop!.notifications("admin").at(-1)?.text).toContain("Could not repair disk_full");
  });

  it("does not take over a loop that never started beside it (proactive.inServer: false)", async () => {
    const { app } = await start(() => tiny, "proactive:\n  inServer: false", false);
    expect(app.loop!.status().processes).toEqual([]);
    const records = await app.repair!.repairer.check();
    expect(records.map((r) => r.fault)).toEqual([]);
    expect(app.loop!.running).toBe(false);
  });

  it("builds a signed code patch, restarts, keeps it when healthy after the restart and rolls it back when not", async () => {
    const install = await mkdtemp(path.join(os.tmpdir(), "sarai-install-"));
    try {
      const git = (...args: string[]) =>
        execFileSync("git", ["-C", install, "-c", "user.name=t", "-c", "user.email=t@example.com", ...args], {
          encoding: "utf8",
        });
      await mkdir(path.join(install, "src"));
      await writeFile(path.join(install, "src", "answer.ts"), "export const answer = 1;\n");
      git("init", "-q");
      git("add", ".");
      git("commit", "-qm", "install");
      const keys = await generateSigningKey();
      await writeFile(path.join(install, "..", `${path.basename(install)}.key`), keys.privateKey, {
        mode: 0o600,
      });
      const publicKey = path.join(install, "..", `${path.basename(install)}.pub`);
      await writeFile(publicKey, keys.publicKey);
      const node = (code: string) => JSON.stringify(["node", "-e", code]);
      const { app } = await start(
        () => tiny,
        `security:\n  signatures:\n    publicKey: ${publicKey}`,
        true,
        [
          "  patches:",
          `    installDir: ${install}`,
          `    testCommand: ${node("process.exit(0)")}`,
          `    buildCommand: ${node("require('fs').copyFileSync('src/answer.ts', 'built.js')")}`,
          `    restartCommand: ${node("require('fs').appendFileSync('restarts.txt', 'x')")}`,
          "    healthWindowMs: 100",
        ].join("\n"),
      );
      const signed = async (value: number) => {
        await writeFile(path.join(install, "src", "answer.ts"), `export const answer = ${value};\n`);
        const diff = git("diff");
        git("checkout", "--", "src/answer.ts");
        const diffFile = path.join(install, "..", `${path.basename(install)}-${value}.diff`);
        await writeFile(diffFile, diff);
        await signFile(
          diffFile,
          await loadSigningKey(path.join(install, "..", `${path.basename(install)}.key`)),
        );
        return { diffFile, signatureFile: `${diffFile}.asc` };
      };
      const restarts = async () =>
        (await readFile(path.join(install, "restarts.txt"), "utf8").catch(() => "")).length;

      await app.pool.load("main"); // as `sarai serve` does at start: a ready server
      const first = await app.repair!.applyPatch(await signed(2));
      expect(first.status, JSON.stringify(first.steps)).toBe("applied");
      expect(await readFile(path.join(install, "built.js"), "utf8")).toBe("export const answer = 2;\n");
      await expect.poll(restarts, { timeout: 5000 }).toBe(1);
      // What the restarted process does: healthy, so the patch stays.
      await app.repair!.confirmPending();

      git("add", ".");
      git("commit", "-qm", "answer 2");
      await app.pool.load("main");
      const second = await app.repair!.applyPatch(await signed(3));
      expect(second.status).toBe("applied");
      await expect.poll(restarts, { timeout: 5000 }).toBe(2);
      // The restarted process is not ready (its model does not load): the snapshot comes back, built, restarted.
      await app.pool.unloadIdle();
      await app.repair!.confirmPending();
      expect(await readFile(path.join(install, "src", "answer.ts"), "utf8")).toBe(
        "export const answer = 2;\n",
      );
      expect(await readFile(path.join(install, "built.js"), "utf8")).toBe("export const answer = 2;\n");
      await expect.poll(restarts, { timeout: 5000 }).toBe(3);
      const actions = app.repair!.repairer.history().map((r) => [r.action, r.result]);
      expect(actions.slice(0, 2)).toEqual([
        [expect.stringMatching(/^roll back .*-3\.diff after the restart$/), "rolled_back"],
        [expect.stringMatching(/^apply .*-3\.diff/), "applied"],
      ]);
      expect(actions).toContainEqual([
        expect.stringMatching(/^confirm .*-2\.diff after the restart$/),
        "applied",
      ]);
    } finally {
      await rm(install, { recursive: true, force: true });
    }
  });

  it("only diagnoses with repair.autoApply off", async () => {
    const { app, store } = await start(() => tiny);
    store.apply({ repair: { autoApply: false, thresholds: { minFreeDiskMb: 1_048_576 } } });
    const [record] = await app.repair!.repairer.check();
    expect(record).toMatchObject({ fault: "disk_full", level: 0, result: "diagnosed" });
  });
});
