/**
 * A Hugging Face mirror on loopback for tests and benches: `GET`/`HEAD /<user>/<repo>/resolve/<branch>/<file>`
 * with Content-Length, Accept-Ranges and 206 answers to Range requests — what node-llama-cpp's downloader speaks.
 */
import { readFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeHfMirror {
  /** The endpoint to configure as `models.huggingFaceEndpoint`, with a trailing slash. */
  readonly endpoint: string;
  /** Paths requested with GET, in order. */
  readonly downloads: string[];
  close(): Promise<void>;
}

/** Serves each `files` entry (URL path → local file) from loopback. */
export async function startFakeHfMirror(files: ReadonlyMap<string, string>): Promise<FakeHfMirror> {
  const downloads: string[] = [];
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://localhost");
      const file = files.get(url.pathname);
      if (file === undefined) {
        res.writeHead(404, { "content-type": "text/plain" }).end("no such file");
        return;
      }
      const body = await readFile(file);
      const match = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
      const start = match ? Number(match[1]) : 0;
      const end = match?.[2] ? Number(match[2]) : body.length - 1;
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
      downloads.push(url.pathname);
      res.end(body.subarray(start, end + 1));
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}/`,
    downloads,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
