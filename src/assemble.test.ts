import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { assembleRedTeam } from "./assemble.js";
import { ConfigError, loadConfig } from "./config/index.js";
import { noAudit } from "./security/index.js";

const configWith = (families: string[]) =>
  loadConfig({
    env: { HOME: os.tmpdir(), SARAI_PATHS_DATA_DIR: path.join(os.tmpdir(), "sarai-assemble-test") },
    overrides: { redteam: { enabled: true, families } },
  }).config;

describe("assembleRedTeam", () => {
  it("refuses an unknown probe family in redteam.families, naming the entry and the known families", () => {
    let caught: unknown;
    try {
      assembleRedTeam(configWith(["sql_escape", "sql-escape"]), undefined, noAudit);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.issues.map((issue) => issue.path)).toEqual(["redteam.families.1"]);
    expect(error.message).toContain('unknown probe family "sql-escape"; known: prompt_injection');
  });

  it("builds the red team for known families", () => {
    expect(assembleRedTeam(configWith(["sql_escape", "unicode"]), undefined, noAudit)).toBeDefined();
  });
});
