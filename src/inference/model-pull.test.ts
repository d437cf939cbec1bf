import { execFile } from "node:child_process";
import crypto from "node:crypto";
import dns from "node:dns/promises";
import fs from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";

import { AppError } from "../shared/index.js";
import { pullModel, resolvePartialDownloadPath } from "./model-pull.js";
import type { PullProgress } from "./model-pull.js";
import { parseModelSource, resolveModelSourcePath } from "./model-source.js";

const mib = 1024 * 1024;
/** node-llama-cpp's downloader (ipull) fetches in 5 MiB chunks, three at a time, and resumes whole chunks. */
const chunkSize = 5 * mib;

/** How the test server sends one response body. */
type Delivery =
  | { kind: "full" }
  | { kind: "throttle"; bytesPerTick: number; tickMs: number }
  | { kind: "drop"; afterBytes: number };

interface ServedRequest {
  method: string;
  path: string;
  range: { start: number; end: number } | undefined;
  authorization: string | undefined;
}

interface FileServer {
  readonly origin: string;
  readonly requests: ServedRequest[];
  /** Chooses the delivery for each request; default: everything at full speed. */
  deliver: (request: ServedRequest) => Delivery;
  close(): Promise<void>;
}

/**
 * A real HTTP(S) file server on loopback, speaking the protocol the downloader expects: Content-Length,
 * Accept-Ranges and 206 responses to Range requests.
 */
async function startFileServer(
  files: ReadonlyMap<string, Buffer>,
  tls?: { key: Buffer; cert: Buffer },
): Promise<FileServer> {
  const requests: ServedRequest[] = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const match = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    const body = files.get(url.pathname);
    const start = match ? Number(match[1]) : 0;
    const end = match?.[2] ? Number(match[2]) : (body?.length ?? 1) - 1;
    const request: ServedRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      range: match ? { start, end } : undefined,
      authorization: req.headers.authorization,
    };
    requests.push(request);
    if (body === undefined) {
      res.writeHead(404, "Not Found", { "content-type": "text/plain" });
      res.end("no such file");
      return;
    }
    const headers: http.OutgoingHttpHeaders = {
      "accept-ranges": "bytes",
      "content-type": "application/octet-stream",
      "content-length": end - start + 1,
    };
    if (match) headers["content-range"] = `bytes ${start}-${end}/${body.length}`;
    res.writeHead(match ? 206 : 200, headers);
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    send(res, body.subarray(start, end + 1), server.deliver(request));
  };
  const httpServer = tls ? https.createServer(tls, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const { port } = httpServer.address() as net.AddressInfo;
  const server: FileServer = {
    origin: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
    requests,
    deliver: () => ({ kind: "full" }),
    close: async () => {
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
  return server;
}

function send(res: http.ServerResponse, body: Buffer, delivery: Delivery): void {
  if (delivery.kind === "full") {
    res.end(body);
    return;
  }
  if (delivery.kind === "drop") {
    res.write(body.subarray(0, delivery.afterBytes), () => setTimeout(() => res.socket?.destroy(), 10));
    return;
  }
  let offset = 0;
  const tick = () => {
    if (res.destroyed) return;
    const next = Math.min(body.length, offset + delivery.bytesPerTick);
    res.write(body.subarray(offset, next));
    offset = next;
    if (offset >= body.length) res.end();
    else setTimeout(tick, delivery.tickMs);
  };
  tick();
}

/** Range requests that ask for bytes the downloader already has would re-download them. */
function sumRequestedBytes(requests: readonly ServedRequest[]): number {
  return requests.reduce(
    (sum, request) => sum + (request.range ? request.range.end - request.range.start + 1 : 0),
    0,
  );
}

async function catchAppError(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error("expected an AppError, but the call succeeded");
}

/**
 * Waits until the downloader has recorded chunk `index` as complete. ipull appends its progress as JSON after
 * the data in the `.ipull` file, e.g. `{"part":0,"chunks":[2,1,2],…}`, where 2 means complete.
 */
async function waitForSavedChunk(partialPath: string, dataLength: number, index: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const saved = (await fs.readFile(partialPath)).subarray(dataLength).toString("utf8");
      const progress = JSON.parse(saved) as { chunks?: number[] };
      if (progress.chunks?.[index] === 2) return;
    } catch {
      // not written yet
    }
    if (Date.now() > deadline) throw new Error(`chunk ${index} was not saved in time`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function getClosedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const noAbort = new AbortController().signal;

let root: string;
let counter = 0;
const servers: FileServer[] = [];

function createModelsDir(): string {
  counter += 1;
  return path.join(root, `models-${counter}`);
}

async function startServer(files: ReadonlyMap<string, Buffer>, tls?: { key: Buffer; cert: Buffer }) {
  const server = await startFileServer(files, tls);
  servers.push(server);
  return server;
}

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "sarai-model-pull-"));
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe("model-pull", () => {
  describe("pullModel", () => {
    it("downloads a file byte-identical over HTTP, sending the given headers", async () => {
      const content = crypto.randomBytes(12 * mib + 12_345);
      const server = await startServer(new Map([["/files/tiny.gguf", content]]));
      const modelsDir = createModelsDir();
      const progress: PullProgress[] = [];

      const result = await pullModel({
        source: `${server.origin}/files/tiny.gguf`,
        modelsDir,
        signal: noAbort,
        headers: { Authorization: "Bearer test-token" },
        onProgress: (p) => progress.push(p),
      });

      expect(result).toEqual({
        path: path.join(modelsDir, "tiny.gguf"),
        sizeBytes: content.length,
        resumed: false,
        alreadyPresent: false,
      });
      expect((await fs.readFile(result.path)).equals(content)).toBe(true);
      await expect(fs.access(resolvePartialDownloadPath(result.path))).rejects.toThrow();
      expect(progress.at(-1)).toEqual({ downloadedBytes: content.length, totalBytes: content.length });
      expect(server.requests.every((request) => request.authorization === "Bearer test-token")).toBe(true);
      expect(server.requests.some((request) => request.range !== undefined)).toBe(true);
    });

    it("returns a present file without touching the network", async () => {
      const content = crypto.randomBytes(64 * 1024);
      const server = await startServer(new Map([["/m.gguf", content]]));
      const modelsDir = createModelsDir();
      const source = `${server.origin}/m.gguf`;
      await pullModel({ source, modelsDir, signal: noAbort });
      const requestsAfterFirstPull = server.requests.length;
      await server.close();

      const again = await pullModel({ source, modelsDir, signal: noAbort });

      expect(again).toEqual({
        path: path.join(modelsDir, "m.gguf"),
        sizeBytes: content.length,
        resumed: false,
        alreadyPresent: true,
      });
      expect(server.requests).toHaveLength(requestsAfterFirstPull);
    });

    it("resumes an aborted download with range requests and ends byte-identical", async () => {
      // The short last chunk matters: ipull counts it as 5 MiB, believes itself done too early and, when
      // cancelled, renames the unfinished file to its final name; pullModel must undo that.
      const content = crypto.randomBytes(2 * chunkSize + 4321);
      const server = await startServer(new Map([["/big.gguf", content]]));
      // The first chunk arrives at once, the others crawl, so the abort finds one chunk complete.
      server.deliver = (request) =>
        request.range !== undefined && request.range.start > 0
          ? { kind: "throttle", bytesPerTick: 16 * 1024, tickMs: 50 }
          : { kind: "full" };
      const modelsDir = createModelsDir();
      const controller = new AbortController();
      const source = `${server.origin}/big.gguf`;

      const partialPath = resolvePartialDownloadPath(path.join(modelsDir, "big.gguf"));

      const firstPull = pullModel({ source, modelsDir, signal: controller.signal });
      await waitForSavedChunk(partialPath, content.length, 0);
      controller.abort(new Error("user pressed Ctrl-C"));
      const aborted = await catchAppError(firstPull);

      expect(aborted.code).toBe("ABORTED");
      expect(aborted.message).toContain("resumes");
      expect(await fs.readdir(modelsDir)).toEqual(["big.gguf.ipull"]);
      expect((await fs.stat(partialPath)).size).toBeGreaterThan(content.length); // data, then ipull's progress

      server.requests.length = 0;
      server.deliver = () => ({ kind: "full" });
      const progress: PullProgress[] = [];
      const result = await pullModel({
        source,
        modelsDir,
        signal: noAbort,
        onProgress: (p) => progress.push(p),
      });

      expect(result.resumed).toBe(true);
      expect(result.alreadyPresent).toBe(false);
      expect((await fs.readFile(result.path)).equals(content)).toBe(true);
      const ranges = server.requests.filter((request) => request.range !== undefined);
      expect(ranges.length).toBeGreaterThan(0);
      expect(ranges.some((request) => request.range?.start === 0)).toBe(false);
      expect(sumRequestedBytes(server.requests)).toBeLessThanOrEqual(content.length - chunkSize);
      expect(progress[0]?.downloadedBytes).toBeGreaterThanOrEqual(chunkSize);
      await expect(fs.access(partialPath)).rejects.toThrow();
    });

    it("fails with DOWNLOAD_FAILED when the server keeps dropping the connection, and a rerun resumes", async () => {
      const content = crypto.randomBytes(2 * chunkSize + 4321);
      const server = await startServer(new Map([["/flaky.gguf", content]]));
      server.deliver = (request) =>
        request.range !== undefined && request.range.start > 0
          ? { kind: "drop", afterBytes: 64 * 1024 }
          : { kind: "full" };
      const modelsDir = createModelsDir();
      const source = `${server.origin}/flaky.gguf`;

      const started = performance.now();
      const error = await catchAppError(
        pullModel({ source, modelsDir, signal: noAbort, stallTimeoutMs: 1_500 }),
      );
      const elapsedMs = performance.now() - started;

      expect(error.code).toBe("DOWNLOAD_FAILED");
      expect(error.message).toContain("No data arrived from 127.0.0.1");
      expect(error.message).toContain("pull again to resume");
      expect(elapsedMs).toBeLessThan(10_000);
      expect(await fs.readdir(modelsDir)).toEqual(["flaky.gguf.ipull"]);

      server.requests.length = 0;
      server.deliver = () => ({ kind: "full" });
      const result = await pullModel({ source, modelsDir, signal: noAbort });

      expect(result.resumed).toBe(true);
      expect((await fs.readFile(result.path)).equals(content)).toBe(true);
      expect(sumRequestedBytes(server.requests)).toBeLessThanOrEqual(chunkSize);
    });

    it("reaches a loopback server by the name localhost, whichever address it resolves to first", async () => {
      const content = crypto.randomBytes(10_000);
      const server = await startServer(new Map([["/local.gguf", content]]));
      const result = await pullModel({
        source: `${server.origin.replace("127.0.0.1", "localhost")}/local.gguf`,
        modelsDir: createModelsDir(),
        signal: noAbort,
      });
      expect((await fs.readFile(result.path)).equals(content)).toBe(true);
    });

    it("fails with DOWNLOAD_FAILED naming the URL when the server answers 404", async () => {
      const server = await startServer(new Map());
      const modelsDir = createModelsDir();
      const url = `${server.origin}/missing/model.gguf`;

      const error = await catchAppError(pullModel({ source: url, modelsDir, signal: noAbort }));

      expect(error.code).toBe("DOWNLOAD_FAILED");
      expect(error.param).toBe(url);
      expect(error.message).toBe(`${url} answered HTTP 404 Not Found: no such file there`);
      expect(await fs.readdir(modelsDir)).toEqual([]);
    });

    it("downloads hf: sources and aliases from the Hugging Face endpoint's resolve URLs", async () => {
      const tiny = crypto.randomBytes(300_000);
      const draft = crypto.randomBytes(200_000);
      const server = await startServer(
        new Map([
          ["/tester/Tiny-GGUF/resolve/dev/tiny-q8_0.gguf", tiny],
          ["/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q4_k_m.gguf", draft],
        ]),
      );
      const modelsDir = createModelsDir();
      const huggingFaceEndpoint = `${server.origin}/`;

      const hf = await pullModel({
        source: "hf:tester/Tiny-GGUF/tiny-q8_0.gguf#dev",
        modelsDir,
        signal: noAbort,
        huggingFaceEndpoint,
      });
      const alias = await pullModel({
        source: "qwen2.5-0.5b",
        modelsDir,
        signal: noAbort,
        huggingFaceEndpoint,
      });

      expect(hf.path).toBe(
        resolveModelSourcePath(parseModelSource("hf:tester/Tiny-GGUF/tiny-q8_0.gguf#dev"), modelsDir),
      );
      expect(path.basename(hf.path)).toBe("hf_tester_Tiny-GGUF_dev_tiny-q8_0.gguf");
      expect((await fs.readFile(hf.path)).equals(tiny)).toBe(true);
      expect(path.basename(alias.path)).toBe("hf_Qwen_qwen2.5-0.5b-instruct-q4_k_m.gguf");
      expect((await fs.readFile(alias.path)).equals(draft)).toBe(true);
    });

    it("refuses a Hugging Face endpoint over plain http to another host", async () => {
      const error = await catchAppError(
        pullModel({
          source: "qwen2.5-0.5b",
          modelsDir: createModelsDir(),
          signal: noAbort,
          huggingFaceEndpoint: "http://mirror.example.com/",
        }),
      );
      expect(error.code).toBe("MODEL_SOURCE_INVALID");
      expect(error.param).toBe("huggingFaceEndpoint");
    });

    it("downloads every part of a split model and returns the first", async () => {
      const part1 = crypto.randomBytes(150_000);
      const part2 = crypto.randomBytes(90_000);
      const base = "/Qwen/Qwen2.5-7B-Instruct-GGUF/resolve/main/qwen2.5-7b-instruct-q4_k_m";
      const server = await startServer(
        new Map([
          [`${base}-00001-of-00002.gguf`, part1],
          [`${base}-00002-of-00002.gguf`, part2],
        ]),
      );
      const modelsDir = createModelsDir();

      const result = await pullModel({
        source: "qwen2.5-7b",
        modelsDir,
        signal: noAbort,
        huggingFaceEndpoint: `${server.origin}/`,
      });

      expect(result.path).toBe(
        path.join(modelsDir, "hf_Qwen_qwen2.5-7b-instruct-q4_k_m-00001-of-00002.gguf"),
      );
      expect(result.sizeBytes).toBe(part1.length + part2.length);
      const second = path.join(modelsDir, "hf_Qwen_qwen2.5-7b-instruct-q4_k_m-00002-of-00002.gguf");
      expect((await fs.readFile(result.path)).equals(part1)).toBe(true);
      expect((await fs.readFile(second)).equals(part2)).toBe(true);
    });

    it("fails with ABORTED before any request when the signal is already aborted", async () => {
      const server = await startServer(new Map([["/m.gguf", Buffer.alloc(10)]]));
      const controller = new AbortController();
      controller.abort();
      const error = await catchAppError(
        pullModel({
          source: `${server.origin}/m.gguf`,
          modelsDir: createModelsDir(),
          signal: controller.signal,
        }),
      );
      expect(error.code).toBe("ABORTED");
      expect(server.requests).toEqual([]);
    });

    it("returns an existing file source as present and fails with MODEL_NOT_FOUND for a missing one", async () => {
      const modelsDir = createModelsDir();
      await fs.mkdir(modelsDir, { recursive: true });
      await fs.writeFile(path.join(modelsDir, "local.gguf"), "12345");
      await expect(pullModel({ source: "local.gguf", modelsDir, signal: noAbort })).resolves.toEqual({
        path: path.join(modelsDir, "local.gguf"),
        sizeBytes: 5,
        resumed: false,
        alreadyPresent: true,
      });
      const error = await catchAppError(pullModel({ source: "gone.gguf", modelsDir, signal: noAbort }));
      expect(error.code).toBe("MODEL_NOT_FOUND");
      expect(error.param).toBe(path.join(modelsDir, "gone.gguf"));
    });

    describe("without a network", () => {
      function expectOffline(error: AppError): void {
        expect(error.code).toBe("DOWNLOAD_OFFLINE");
        expect(error.message).toContain("the host is unreachable or there is no network");
        expect(error.message).toContain("Nothing was downloaded");
      }

      it("fails within seconds with DOWNLOAD_OFFLINE when the host name does not resolve", async () => {
        const modelsDir = createModelsDir();
        const started = performance.now();
        const error = await catchAppError(
          pullModel({
            source: "hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf",
            modelsDir,
            signal: noAbort,
            // .invalid never resolves (RFC 6761), so this is offline on any machine.
            huggingFaceEndpoint: "https://huggingface.invalid/",
          }),
        );
        expect(performance.now() - started).toBeLessThan(10_000);
        expectOffline(error);
        expect(error.message).toContain("Cannot reach huggingface.invalid (DNS lookup failed");
        expect(error.param).toBe("https://huggingface.invalid");
        await expect(fs.readdir(modelsDir)).rejects.toThrow();
      });

      it("fails within seconds with DOWNLOAD_OFFLINE pulling the default model from huggingface.co", async (context) => {
        // On a machine with a network this would download 1 GB; the test is about the machine being offline.
        const resolves = await dns.lookup("huggingface.co").then(
          () => true,
          () => false,
        );
        if (resolves) context.skip();
        const started = performance.now();
        const error = await catchAppError(
          pullModel({ source: "qwen2.5-1.5b", modelsDir: createModelsDir(), signal: noAbort }),
        );
        expect(performance.now() - started).toBeLessThan(10_000);
        expectOffline(error);
        expect(error.message).toContain("Cannot reach huggingface.co");
      });

      it("fails with DOWNLOAD_OFFLINE after timeoutMs when the host accepts but never answers", async () => {
        const sockets = new Set<net.Socket>();
        const silent = net.createServer((socket) => void sockets.add(socket)); // accepts TCP, never speaks TLS
        await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
        const { port } = silent.address() as net.AddressInfo;
        try {
          const started = performance.now();
          const error = await catchAppError(
            pullModel({
              source: `https://127.0.0.1:${port}/m.gguf`,
              modelsDir: createModelsDir(),
              signal: noAbort,
              timeoutMs: 800,
            }),
          );
          const elapsedMs = performance.now() - started;
          expectOffline(error);
          expect(error.message).toContain(`no answer on port ${port} within 0.8 s`);
          expect(elapsedMs).toBeGreaterThanOrEqual(700);
          expect(elapsedMs).toBeLessThan(3_000);
        } finally {
          for (const socket of sockets) socket.destroy();
          await new Promise<void>((resolve) => silent.close(() => resolve()));
        }
      });

      it("fails at once with DOWNLOAD_OFFLINE when the connection is refused", async () => {
        const port = await getClosedPort();
        const started = performance.now();
        const error = await catchAppError(
          pullModel({
            source: `http://127.0.0.1:${port}/m.gguf`,
            modelsDir: createModelsDir(),
            signal: noAbort,
          }),
        );
        expect(performance.now() - started).toBeLessThan(2_000);
        expectOffline(error);
        expect(error.message).toContain("ECONNREFUSED");
      });
    });

    describe("over HTTPS", () => {
      let tlsFiles: { key: Buffer; cert: Buffer } | undefined;

      beforeAll(async () => {
        const dir = await fs.mkdtemp(path.join(root, "tls-"));
        try {
          await promisify(execFile)("openssl", [
            ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"],
            ...["-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem")],
            ...["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
          ]);
          tlsFiles = {
            key: await fs.readFile(path.join(dir, "key.pem")),
            cert: await fs.readFile(path.join(dir, "cert.pem")),
          };
        } catch {
          tlsFiles = undefined; // no openssl: these tests are skipped
        }
      });

      it("fails fast with DOWNLOAD_FAILED when the certificate is not trusted", async (context) => {
        if (tlsFiles === undefined) return context.skip();
        const server = await startServer(new Map([["/m.gguf", Buffer.alloc(1000)]]), tlsFiles);
        const started = performance.now();
        const error = await catchAppError(
          pullModel({
            source: `${server.origin}/m.gguf`,
            modelsDir: createModelsDir(),
            signal: noAbort,
          }),
        );
        expect(performance.now() - started).toBeLessThan(3_000);
        expect(error.code).toBe("DOWNLOAD_FAILED");
        expect(error.message).toContain("The TLS connection to 127.0.0.1");
        expect(error.message).toContain("self-signed certificate");
        expect(server.requests).toEqual([]);
      });

      it("downloads over HTTPS when the certificate is trusted", async (context) => {
        if (tlsFiles === undefined) return context.skip();
        // Node's TLS, and so fetch, reads this at each connection; it stands in for a trusted CA here.
        vi.stubEnv("NODE_TLS_REJECT_UNAUTHORIZED", "0");
        const content = crypto.randomBytes(6 * mib);
        const server = await startServer(new Map([["/secure.gguf", content]]), tlsFiles);
        const result = await pullModel({
          source: `${server.origin}/secure.gguf`,
          modelsDir: createModelsDir(),
          signal: noAbort,
        });
        expect((await fs.readFile(result.path)).equals(content)).toBe(true);
      });
    });
  });
});
