import { describe, expect, it } from "vitest";
import { ConfigError } from "./config-error.js";
import { loadConfig } from "./load.js";
import { formatConfigYaml } from "./print.js";

const env = { HOME: "/home/test" };

describe("config", () => {
  describe("server", () => {
    it("requires API keys when the server listens beyond loopback", () => {
      const error = (() => {
        try {
          loadConfig({ env: { ...env, SARAI_SERVER_HOST: "0.0.0.0" } });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).issues[0]).toMatchObject({ path: "server.apiKeys" });
      expect((error as ConfigError).message).toMatch(/not a loopback address/);
      for (const host of ["127.0.0.1", "127.1.2.3", "localhost", "::1"]) {
        expect(loadConfig({ env: { ...env, SARAI_SERVER_HOST: host } }).config.server.host).toBe(host);
      }
    });

    it("reads a comma-separated list of keys from the environment and never prints them", () => {
      const { config } = loadConfig({
        env: { ...env, SARAI_SERVER_HOST: "0.0.0.0", SARAI_SERVER_API_KEYS: " key-one-123, key-two-456 ,," },
      });
      expect(config.server.apiKeys).toEqual(["key-one-123", "key-two-456"]);
      const printed = formatConfigYaml(config);
      expect(printed).not.toContain("key-one-123");
      expect(printed).toContain("[redacted]");
    });

    it("accepts a remote role and refuses a role with both a source and a remote", () => {
      const remote = { baseUrl: "http://10.0.0.5:8080/v1", model: "qwen" };
      const { config } = loadConfig({ env, overrides: { models: { main: { remote } } } });
      expect(config.models.main).toEqual({
        remote: {
          ...remote,
          connectTimeoutMs: 5000,
          readTimeoutMs: 120_000,
          retries: 2,
          vision: false,
          logprobs: false,
        },
      });
      expect(() =>
        loadConfig({ env, overrides: { models: { main: { remote, source: "x.gguf" } } } }),
      ).toThrow(/models\.main: give exactly one of source/);
    });
  });
});
