import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCliRunner, expectNoStackTrace } from "./cli-helpers.js";
import { ensureTestModel } from "./models.js";
import { inspectWav } from "./wav-helpers.js";

let dataDir = "";
const run = createCliRunner(() => dataDir);
let server: http.Server;
let base = "";

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "sarai-cli-voice-"));
  // A fake SearXNG on loopback.
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname !== "/search") return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        results: [
          { url: `${base}/nowhere`, title: `About ${url.searchParams.get("q")}`, content: "A snippet." },
        ],
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dataDir, { recursive: true, force: true });
});

describe("cli", () => {
  describe("say", () => {
    it("writes a Spanish WAV with -o", async () => {
      const out = path.join(dataDir, "hola.wav");
      const result = await run(["say", "Hola, ¿qué tal estás hoy?", "-o", out, "--voice", "es"]);
      expect(result.code).toBe(0);
      expect(result.stdout.trim()).toBe(out);
      const info = inspectWav(readFileSync(out));
      expect(info.rate).toBe(22050);
      expect(info.seconds).toBeGreaterThan(0.5);
      expect(info.rms).toBeGreaterThan(0.01);
    });

    it("without -o and without a terminal writes a temp file and prints its path", async () => {
      const result = await run(["say", "Hello"], { env: { TMPDIR: dataDir } });
      expect(result.stdout.startsWith(dataDir)).toBe(true);
      expect(result.code).toBe(0);
      expect(inspectWav(readFileSync(result.stdout.trim())).seconds).toBeGreaterThan(0.1);
    });

    it("exits non-zero with a message for an empty text or an unknown voice", async () => {
      const empty = await run(["say", ""]);
      expect(empty.code).not.toBe(0);
      expect(empty.stderr).toMatch(/input: is empty/);
      const voice = await run(["say", "hi", "--voice", "xx"]);
      expect(voice.code).not.toBe(0);
      expect(voice.stderr).toMatch(/accepted: es, en/);
      expectNoStackTrace(voice);
    });
  });

  describe("search", () => {
    it("prints numbered results from SearXNG, and JSON with --json", async () => {
      const env = {
        SARAI_SEARCH_ENABLED: "true",
        SARAI_SEARCH_BASE_URL: base,
        SARAI_SEARCH_ALLOW_PRIVATE_ADDRESSES: "true",
      };
      const text = await run(["search", "Granada"], { env });
      expect(text.code).toBe(0);
      expect(text.stdout).toContain(`[1] About Granada — ${base}/nowhere`);
      expect(text.stdout).toMatch(/page not read: HTTP 404/);
      const json = await run(["search", "Granada", "--json"], { env });
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toMatchObject({ query: "Granada", cached: true });
    });

    it("ask --search answers and lists the numbered sources after the answer", async () => {
      const model = await ensureTestModel();
      const result = await run(
        ["ask", "--model", model, "--search", "--seed", "1", "-n", "4", "-t", "0", "--no-memory", "Sevilla"],
        {
          env: {
            SARAI_SEARCH_ENABLED: "true",
            SARAI_SEARCH_BASE_URL: base,
            SARAI_SEARCH_ALLOW_PRIVATE_ADDRESSES: "true",
          },
        },
      );
      expect(result.code).toBe(0);
      expect(result.stdout.trimEnd().endsWith(`[1] About Sevilla — ${base}/nowhere`)).toBe(true);
      const off = await run(["ask", "--model", model, "--search", "-n", "2", "Sevilla"]);
      expect(off.code).toBe(2);
      expect(off.stderr).toMatch(/--search: web search is off/);
    });

    it("says how to turn web search on when it is off", async () => {
      const result = await run(["search", "Granada"]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/search\.enabled: true and search\.baseUrl/);
    });
  });
});
