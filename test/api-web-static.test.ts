import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "../src/api/index.js";
import { createSilentLogger } from "../src/shared/index.js";
import { expectErrorBody, startTestServer, type TestServer } from "./api-helpers.js";

const key = "sk-web-0123456789abcdef";
const csp =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; " +
  "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const indexHtml =
  '<!doctype html><html><head><script type="module" src="/assets/index-4f2a9c.js"></script></head></html>';
const script = "console.log('sarai ui');";
const secret = "TOP-SECRET-OUTSIDE-THE-BUILD";

/** A GET over a real socket with the path exactly as given: no client normalises `..` away. */
function rawGet(url: string, pathname: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const request = http.request({ hostname, port, path: pathname, method: "GET" }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on("error", reject);
    request.end();
  });
}

function expectUiHeaders(headers: Headers): void {
  expect(headers.get("content-security-policy")).toBe(csp);
  expect(headers.get("x-content-type-options")).toBe("nosniff");
  expect(headers.get("referrer-policy")).toBe("no-referrer");
  expect(headers.get("x-frame-options")).toBe("DENY");
}

describe("api", () => {
  describe("web UI", () => {
    let dir: string;
    let root: string;
    let ts: TestServer;

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), "sarai-web-"));
      root = path.join(dir, "web");
      await mkdir(path.join(root, "assets"), { recursive: true });
      await writeFile(path.join(root, "index.html"), indexHtml);
      await writeFile(path.join(root, "favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>");
      await writeFile(path.join(root, "assets", "index-4f2a9c.js"), script);
      await writeFile(path.join(root, "assets", "index-77aa01.css"), "body{margin:0}");
      // What a traversal would reach: a file beside the build, and a link out of it.
      await writeFile(path.join(dir, "package.json"), secret);
      await symlink(path.join(dir, "package.json"), path.join(root, "assets", "linked.js"));
      ts = await startTestServer({ server: { apiKeys: [key] }, webRoot: root });
    }, 120_000);
    afterAll(async () => {
      await ts?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it("serves index.html at / with the security headers, no cache, and no key", async () => {
      const response = await fetch(`${ts.url}/`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(response.headers.get("cache-control")).toBe("no-cache");
      expectUiHeaders(response.headers);
      expect(await response.text()).toBe(indexHtml);

      const head = await fetch(`${ts.url}/`, { method: "HEAD" });
      expect(head.status).toBe(200);
      expectUiHeaders(head.headers);
    });

    it("serves hashed assets with their type and a long cache", async () => {
      const js = await fetch(`${ts.url}/assets/index-4f2a9c.js`);
      expect(js.status).toBe(200);
      expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
      expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expectUiHeaders(js.headers);
      expect(await js.text()).toBe(script);
      const css = await fetch(`${ts.url}/assets/index-77aa01.css`);
      expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
      const icon = await fetch(`${ts.url}/favicon.svg`);
      expect(icon.headers.get("content-type")).toBe("image/svg+xml");

      const missing = await fetch(`${ts.url}/assets/index-000000.js`);
      expect(missing.status).toBe(404);
      expectUiHeaders(missing.headers);
      expectErrorBody(await missing.json(), "not_found");
    });

    it("answers client-side routes with index.html, and unknown /v1 routes with a JSON 404", async () => {
      for (const route of ["/c/7d1f0a52-0000-4000-8000-000000000000", "/settings", "/search?q=lisboa"]) {
        const response = await fetch(`${ts.url}${route}`);
        expect(response.status, route).toBe(200);
        expectUiHeaders(response.headers);
        expect(await response.text(), route).toBe(indexHtml);
      }
      const api = await fetch(`${ts.url}/v1/no-such-route`, { headers: { authorization: `Bearer ${key}` } });
      expect(api.status).toBe(404);
      expectErrorBody(await api.json(), "route_not_found");
    });

    it("keeps the API, /ready and /metrics behind the key", async () => {
      for (const route of ["/v1/models", "/v1/conversations", "/ready", "/metrics", "/v1"]) {
        const response = await fetch(`${ts.url}${route}`);
        expect(response.status, route).toBe(401);
      }
      const post = await fetch(`${ts.url}/`, { method: "POST" });
      expect(post.status).toBe(401);
    });

    it("never serves a file outside the build", async () => {
      for (const attempt of [
        "/../package.json",
        "/../../package.json",
        "/assets/../../package.json",
        "/assets/%2e%2e/%2e%2e/package.json",
        "/assets/..%2f..%2fpackage.json",
        "/%2e%2e/package.json",
        "/assets/%2e%2e%5c%2e%2e%5cpackage.json",
        "/assets/linked.js",
        "/assets/%00index-4f2a9c.js",
      ]) {
        const response = await rawGet(ts.url, attempt);
        expect(response.body, attempt).not.toContain(secret);
        expect(response.status, attempt).toBe(404);
      }
      // Through inject too, whose URL parsing may resolve the dots first: still never the file.
      for (const attempt of ["/../package.json", "/assets/%2e%2e/%2e%2e/package.json"]) {
        const response = await ts.server.fastify.inject({ method: "GET", url: attempt });
        expect(response.body, attempt).not.toContain(secret);
      }
    });

    describe("not built", () => {
      let unbuilt: Server;
      beforeAll(async () => {
        unbuilt = await createServer({
          app: ts.app,
          logger: createSilentLogger(),
          webRoot: path.join(dir, "missing"),
        });
      });
      afterAll(() => unbuilt.close());

      it("answers / and client routes with a 404 saying to build the UI", async () => {
        for (const route of ["/", "/settings"]) {
          const response = await unbuilt.fastify.inject({ method: "GET", url: route });
          expect(response.statusCode, route).toBe(404);
          const { error } = expectErrorBody(response.json(), "not_found");
          expect(error.message).toMatch(/not built.*npm run build/);
        }
      });
    });
  });
});
