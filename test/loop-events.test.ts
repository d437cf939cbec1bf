import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, type App } from "../src/app.js";
import { ConfigStore, loadConfig } from "../src/config/index.js";
import { createSilentLogger } from "../src/shared/index.js";

let dir: string;
const apps: App[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "sarai-loop-events-"));
});

afterAll(async () => {
  for (const app of apps) await app.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** A main role served by an engine that is not there: every request fails with UPSTREAM_UNAVAILABLE. */
function deadEngineConfig(home: string) {
  return loadConfig({
    env: { HOME: home, SARAI_PATHS_DATA_DIR: home },
    overrides: {
      models: {
        main: { remote: { baseUrl: "http://127.0.0.1:9/v1", model: "x", retries: 0, connectTimeoutMs: 500 } },
      },
    },
  }).config;
}

function eventJobs(app: App, event: string) {
  const loop = app.loop;
  if (loop === undefined) throw new Error("the app has no loop");
  return loop.store.jobs({ limit: 1000 }).filter((job) => job.trigger === `event:${event}`);
}

describe("proactive loop", () => {
  describe("events from the rest of SARAi", () => {
    it("puts model_error on the bus when a model fails (ram_check runs on it), once a minute per role and code", async () => {
      const home = path.join(dir, "model-error");
      const config = deadEngineConfig(home);
      const app = await createApp({ config, logger: createSilentLogger() });
      apps.push(app);
      const ask = () =>
        app.backend.chat(
          { messages: [{ role: "user", content: "hola" }], sampling: { maxTokens: 8 } },
          new AbortController().signal,
        );
      for (let i = 0; i < 3; i++) await expect(ask()).rejects.toMatchObject({ code: "UPSTREAM_UNAVAILABLE" });

      const jobs = eventJobs(app, "model_error");
      // Three failures in the same minute are one event: one ram_check, not three.
      expect(jobs).toHaveLength(1);
      expect(jobs[0]).toMatchObject({ action: "ram_check", status: "pending" });
      expect(jobs[0]?.args).toMatchObject({
        event: { name: "model_error", payload: { role: "main", code: "UPSTREAM_UNAVAILABLE" } },
      });
    });

    it("does not treat a bad request as a model error", async () => {
      const home = path.join(dir, "bad-request");
      const config = deadEngineConfig(home);
      const app = await createApp({ config, logger: createSilentLogger() });
      apps.push(app);
      // No model serves the fallback role: MODEL_NOT_FOUND is the caller's mistake, not a failing model.
      await expect(
        app.backend.chat(
          { role: "fallback", messages: [{ role: "user", content: "hola" }] },
          new AbortController().signal,
        ),
      ).rejects.toMatchObject({ code: "MODEL_NOT_FOUND" });
      expect(eventJobs(app, "model_error")).toHaveLength(0);
    });

    it("puts config_changed on the bus with the changed sections when the config is reloaded", async () => {
      const home = path.join(dir, "config-changed");
      const file = path.join(dir, "config-changed.yaml");
      const yaml = (level: string) =>
        [
          `log: { level: ${level} }`,
          "models:",
          "  main: { remote: { baseUrl: 'http://127.0.0.1:9/v1', model: x } }",
          "proactive:",
          "  actions:",
          "    disk_check: { on: [config_changed] }",
          "",
        ].join("\n");
      await writeFile(file, yaml("info"));
      const env = { HOME: home, SARAI_PATHS_DATA_DIR: home };
      const configStore = new ConfigStore({ logger: createSilentLogger(), file, env });
      const app = await createApp({ config: configStore.current, logger: createSilentLogger(), configStore });
      apps.push(app);
      expect(eventJobs(app, "config_changed")).toHaveLength(0);

      await writeFile(file, yaml("debug"));
      const change = configStore.reload();
      expect(change.ok).toBe(true);
      const jobs = eventJobs(app, "config_changed");
      expect(jobs).toHaveLength(1);
      expect(jobs[0]).toMatchObject({ action: "disk_check" });
      expect(jobs[0]?.args).toMatchObject({
        event: { name: "config_changed", payload: { sections: ["log"] } },
      });

      // A reload that changes nothing is no event.
      configStore.reload();
      expect(eventJobs(app, "config_changed")).toHaveLength(1);
    });
  });
});
