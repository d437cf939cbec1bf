import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { resolveModelFile } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { modelAliases } from "./model-aliases.js";
import {
  parseModelSource,
  resolveModelSourcePath,
  resolveModelSourcePaths,
  safeParseModelSource,
} from "./model-source.js";

function expectInvalid(input: string, messagePart: string): void {
  const result = safeParseModelSource(input);
  expect(result.success, input).toBe(false);
  if (result.success) return;
  expect(result.error.code).toBe("MODEL_SOURCE_INVALID");
  expect(result.error.param).toBe(input.trim() === "" ? input : input.trim());
  expect(result.error.message).toContain(messagePart);
}

describe("model-source", () => {
  describe("parseModelSource", () => {
    it("parses an hf: URI naming a file", () => {
      expect(
        parseModelSource("hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf"),
      ).toEqual({
        kind: "hf",
        input: "hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf",
        user: "Qwen",
        repo: "Qwen2.5-1.5B-Instruct-GGUF",
        file: "qwen2.5-1.5b-instruct-q4_k_m.gguf",
        branch: "main",
        uri: "hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf",
      });
    });

    it("parses a branch and a file in a folder, and the hf:// and huggingface: prefixes", () => {
      expect(parseModelSource("hf://user/repo/sub/dir/model.gguf#dev")).toMatchObject({
        kind: "hf",
        file: "sub/dir/model.gguf",
        branch: "dev",
        uri: "hf:user/repo/sub/dir/model.gguf#dev",
      });
      expect(parseModelSource("huggingface:user/repo/model.gguf#")).toMatchObject({
        kind: "hf",
        branch: "main",
      });
    });

    it("turns Hugging Face resolve and blob URLs into hf: sources", () => {
      expect(
        parseModelSource(
          "https://huggingface.co/LiquidAI/LFM2-1.2B-GGUF/resolve/main/LFM2-1.2B-Q4_K_M.gguf?download=true",
        ),
      ).toMatchObject({
        kind: "hf",
        user: "LiquidAI",
        repo: "LFM2-1.2B-GGUF",
        file: "LFM2-1.2B-Q4_K_M.gguf",
      });
      expect(parseModelSource("https://hf.co/u/r/blob/v2/a%20b.gguf")).toMatchObject({
        kind: "hf",
        file: "a b.gguf",
        branch: "v2",
      });
    });

    it("parses an https URL, and an http URL only on a loopback host", () => {
      expect(parseModelSource("https://example.com/models/tiny.gguf")).toEqual({
        kind: "url",
        input: "https://example.com/models/tiny.gguf",
        url: "https://example.com/models/tiny.gguf",
      });
      expect(parseModelSource("http://127.0.0.1:8080/tiny.gguf")).toMatchObject({ kind: "url" });
      expect(parseModelSource("http://localhost/tiny.gguf")).toMatchObject({ kind: "url" });
      expect(parseModelSource("http://[::1]:9/tiny.gguf")).toMatchObject({ kind: "url" });
    });

    it("parses catalogue aliases, ignoring case, into their hf: target", () => {
      const source = parseModelSource(" Qwen2.5-0.5B ");
      expect(source).toMatchObject({
        kind: "alias",
        alias: "qwen2.5-0.5b",
        target: { kind: "hf", user: "Qwen", repo: "Qwen2.5-0.5B-Instruct-GGUF" },
      });
    });

    it("parses file paths and file:// URLs", () => {
      expect(parseModelSource("./models/tiny.gguf")).toEqual({
        kind: "file",
        input: "./models/tiny.gguf",
        path: "./models/tiny.gguf",
      });
      expect(parseModelSource("tiny.GGUF")).toMatchObject({ kind: "file", path: "tiny.GGUF" });
      expect(parseModelSource("/abs/model.bin")).toMatchObject({ kind: "file", path: "/abs/model.bin" });
      expect(parseModelSource("file:///tmp/a%20b.gguf")).toMatchObject({
        kind: "file",
        path: "/tmp/a b.gguf",
      });
    });

    it("throws an AppError with code MODEL_SOURCE_INVALID", () => {
      expect(() => parseModelSource("http://example.com/x.gguf")).toThrow(
        expect.objectContaining({ code: "MODEL_SOURCE_INVALID", param: "http://example.com/x.gguf" }),
      );
    });

    it("refuses plain http:// URLs to other hosts, saying to use https", () => {
      expectInvalid("http://huggingface.co/u/r/resolve/main/x.gguf", "use https://");
    });

    it("refuses other URL schemes, credentials in URLs and URLs not ending in .gguf", () => {
      expectInvalid("ftp://example.com/x.gguf", "only https://");
      expectInvalid("https://user:secret@example.com/x.gguf", "user name or password");
      expectInvalid("https://example.com/download?id=3", "does not point to a .gguf file");
      expectInvalid("https://example.com/bad%E0%A4.gguf", "malformed %-escape");
    });

    it("refuses hf: URIs without a file, naming the expected syntax", () => {
      expectInvalid("hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF", "hf:<user>/<repo>/<file>.gguf");
      expectInvalid("hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF:Q4_K_M", "needs the network");
      expectInvalid("hf:Qwen", "must name a file");
    });

    it("refuses hf: URIs with bad names, path segments or file types", () => {
      expectInvalid("hf:/repo/x.gguf", "invalid user or repository name");
      expectInvalid("hf:u/re po/x.gguf", "invalid user or repository name");
      expectInvalid("hf:u/r/../x.gguf", '".."');
      expectInvalid("hf:u/r/a//x.gguf", "empty");
      expectInvalid("hf:u/r/README.md", "does not name a .gguf file");
    });

    it("refuses empty input and unknown names, listing the known aliases", () => {
      expectInvalid("   ", "empty");
      expectInvalid("qwen9-100b", "qwen2.5-1.5b, qwen2.5-3b");
    });
  });

  describe("resolveModelSourcePath", () => {
    const modelsDir = path.resolve("/data/models");

    it("names hf: files the way node-llama-cpp does", () => {
      const resolve = (input: string) =>
        path.basename(resolveModelSourcePath(parseModelSource(input), modelsDir));
      expect(resolve("qwen2.5-1.5b")).toBe("hf_Qwen_qwen2.5-1.5b-instruct-q4_k_m.gguf");
      expect(resolve("lfm2-1.2b")).toBe("hf_LiquidAI_LFM2-1.2B-Q4_K_M.gguf");
      expect(resolve("hf:bartowski/Some-Model-GGUF/other-name-Q8_0.gguf")).toBe(
        "hf_bartowski_Some-Model-GGUF_other-name-Q8_0.gguf",
      );
      expect(resolve("hf:u/Model-GGUF/model-q4.gguf#dev")).toBe("hf_u_Model-GGUF_dev_model-q4.gguf");
      expect(resolve("hf:u/Model-GGUF/Q4_K_M/model-Q4_K_M-00001-of-00002.gguf")).toBe(
        "hf_u_Q4_K_M_model-Q4_K_M-00001-of-00002.gguf",
      );
      expect(resolve("hf:u/R-GGUF/x/model-q4/model-q4.gguf")).toBe("hf_u_R-GGUF_x_model-q4.gguf");
    });

    it("places the resolved file inside the models directory", () => {
      expect(resolveModelSourcePath(parseModelSource("qwen2.5-3b"), modelsDir)).toBe(
        path.join(modelsDir, "hf_Qwen_qwen2.5-3b-instruct-q4_k_m.gguf"),
      );
    });

    it("names URL downloads after the URL's last path segment, decoded", () => {
      const source = parseModelSource("https://example.com/a/My%20Model.Q4_K_M.gguf?token=1");
      expect(resolveModelSourcePath(source, modelsDir)).toBe(path.join(modelsDir, "My Model.Q4_K_M.gguf"));
    });

    it("replaces characters file systems reserve and keeps long names under 100 characters", () => {
      const reserved = parseModelSource("https://example.com/a%3Ab%7Cc.gguf");
      expect(path.basename(resolveModelSourcePath(reserved, modelsDir))).toBe("a!b!c.gguf");
      const long = parseModelSource(`https://example.com/${"x".repeat(150)}-00001-of-00002.gguf`);
      const name = path.basename(resolveModelSourcePath(long, modelsDir));
      expect(name).toHaveLength(100);
      expect(name.endsWith("x-00001-of-00002.gguf")).toBe(true);
    });

    it("resolves bare file names in the models directory and other relative paths against the cwd", () => {
      expect(resolveModelSourcePath(parseModelSource("tiny.gguf"), modelsDir)).toBe(
        path.join(modelsDir, "tiny.gguf"),
      );
      expect(resolveModelSourcePath(parseModelSource("./sub/tiny.gguf"), modelsDir)).toBe(
        path.resolve("sub/tiny.gguf"),
      );
      expect(resolveModelSourcePath(parseModelSource("/opt/m/tiny.gguf"), modelsDir)).toBe(
        path.normalize("/opt/m/tiny.gguf"),
      );
    });

    it("lists every part of a split model", () => {
      expect(resolveModelSourcePaths(parseModelSource("qwen2.5-7b"), modelsDir)).toEqual([
        path.join(modelsDir, "hf_Qwen_qwen2.5-7b-instruct-q4_k_m-00001-of-00002.gguf"),
        path.join(modelsDir, "hf_Qwen_qwen2.5-7b-instruct-q4_k_m-00002-of-00002.gguf"),
      ]);
      expect(resolveModelSourcePaths(parseModelSource("qwen2.5-0.5b"), modelsDir)).toHaveLength(1);
    });

    describe("agreement with node-llama-cpp", () => {
      let dir: string;
      beforeAll(async () => {
        dir = await fs.mkdtemp(path.join(os.tmpdir(), "sarai-model-source-"));
      });
      afterAll(async () => {
        await fs.rm(dir, { recursive: true, force: true });
      });

      const uris = [
        ...modelAliases.map((alias) => alias.uri),
        "hf:bartowski/Some-Model-GGUF/other-name-Q8_0.gguf",
        "hf:u/Model-GGUF/model-q4.gguf#dev",
        "hf:u/Model-GGUF/Q4_K_M/model-Q4_K_M-00001-of-00002.gguf",
      ];
      it.each(uris)("finds %s where resolveModelFile looks for it", async (uri) => {
        const source = parseModelSource(uri);
        const expected = resolveModelSourcePath(source, dir);
        // Split models need every part under node-llama-cpp's part names.
        for (const part of resolveModelSourcePaths(source, dir)) await fs.writeFile(part, "x");
        // With download disabled, node-llama-cpp only looks for the files under its own names: no network.
        const found = await resolveModelFile(uri, { directory: dir, download: false, cli: false });
        expect(found).toBe(expected);
      });
    });
  });
});
