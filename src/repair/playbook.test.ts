import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, type ResolvedConfig } from "../config/index.js";
import { idleRepairActions as actions } from "../../test/repair-fixtures.js";
import { planRepairs, type ConfigChangeSeen } from "./playbook.js";
import type { Diagnosis } from "./types.js";

let root: string;
let config: ResolvedConfig;

beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), "sarai-playbook-"));
  config = loadConfig({ env: { HOME: root }, cwd: root }).config;
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

const overflow: Diagnosis = {
  fault: "context_overflow",
  target: "server",
  summary: "3 requests did not fit the context window",
  evidence: { errors: 3 },
};

/** One hot reload that changed the context, the log level, revoked an API key and replaced a remote's key. */
const change: ConfigChangeSeen = {
  at: 0,
  paths: ["inference.contextSize", "log.level", "server.apiKeys", "models.main.remote.apiKey"],
  revert: {
    inference: { contextSize: 8192 },
    log: { level: "debug" },
    server: { apiKeys: [{ key: "revoked-key-0001" }] },
    models: { main: { remote: { apiKey: "the-old-key" } } },
  },
};

describe("repair", () => {
  describe("playbook", () => {
    it("undoes only the leaves in the sections that can cause the fault, never a credential", () => {
      const [undo] = planRepairs(overflow, { config, actions, recentChange: change });
      expect(undo).toMatchObject({
        level: 1,
        description: "undo the config change made just before the fault (inference.contextSize)",
        persist: true,
      });
      expect(undo?.patch).toEqual({ inference: { contextSize: 8192 } });
    });

    it("offers no undo when only credentials and unrelated sections changed", () => {
      const plans = planRepairs(overflow, {
        config,
        actions,
        recentChange: {
          at: 0,
          paths: ["log.level", "server.apiKeys"],
          revert: { log: { level: "debug" }, server: { apiKeys: [] } },
        },
      });
      expect(plans.map((plan) => plan.description)).toEqual([
        `inference.contextSize ${config.inference.contextSize} → ${config.inference.contextSize * 2}`,
      ]);
    });
  });
});
