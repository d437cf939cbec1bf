import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AppError } from "../shared/index.js";
import { ConfigError, formatConfigIssues, formatConfigYaml, loadConfig } from "./index.js";

let root: string;

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), "sarai-config-print-"));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe("config", () => {
  describe("formatConfigYaml", () => {
    it("prints the resolved config as YAML that loads back to the same config", () => {
      const env = { HOME: root, SARAI_LOG_LEVEL: "debug" };
      const loaded = loadConfig({
        cwd: root,
        env,
        overrides: { models: { main: "./main.gguf" } },
        totalMemoryBytes: 4 * 2 ** 30,
      });
      const text = formatConfigYaml(loaded.config, loaded);
      expect(text.split("\n")[0]).toBe("# env: SARAI_LOG_LEVEL");
      expect(text).toContain("ramBudgetMb: 3276\n");
      expect(text).toContain(`source: ${path.join(root, "main.gguf")}\n`);

      const file = path.join(root, "printed.yaml");
      writeFileSync(file, text);
      const reloaded = loadConfig({ file, cwd: root, env: { HOME: root }, totalMemoryBytes: 1 });
      expect(reloaded.config).toEqual(loaded.config);
    });
  });

  describe("formatConfigIssues", () => {
    it("lists every issue of a ConfigError with its path and source", () => {
      const error = new ConfigError(
        [
          {
            path: "inference.threads",
            message: "expected number, received string",
            source: "sarai.yaml:3:12",
          },
          { path: "log.levle", message: "unknown key" },
        ],
        { file: "/etc/sarai/sarai.yaml" },
      );
      expect(formatConfigIssues(error)).toBe(
        [
          "Invalid configuration (/etc/sarai/sarai.yaml), 2 issues:",
          "  - inference.threads: expected number, received string (from sarai.yaml:3:12)",
          "  - log.levle: unknown key",
        ].join("\n"),
      );
    });

    it("prints other errors by their message", () => {
      const error = new AppError("CONFIG_PARSE_FAILED", "invalid YAML in config file:\n  /x.yaml:2:3: bad");
      expect(formatConfigIssues(error)).toBe(error.message);
      expect(formatConfigIssues("boom")).toBe("boom");
    });
  });
});
