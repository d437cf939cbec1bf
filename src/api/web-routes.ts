import { createReadStream } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../shared/index.js";
import { sendError } from "./errors.js";

/** The built web UI: `dist/ui/` at the package root, the same path from `src/api/` and `dist/api/`. */
export const defaultWebRoot = fileURLToPath(new URL("../../dist/ui/", import.meta.url));

/**
 * The headers every page and file of the UI is served with: everything from this origin only, no inline script or
 * style, no framing, no referrer.
 */
export const webSecurityHeaders: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; " +
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

const contentTypes: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".webmanifest": "application/manifest+json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".avif": "image/avif",
  ".ico": "image/x-icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
  ".otf": "font/otf",
  ".wasm": "application/wasm",
};

/** Hashed file names never change content: a year, immutable. */
const assetCache = "public, max-age=31536000, immutable";
/** The page and unhashed files: revalidated on every load, so a new build shows at once. */
const pageCache = "no-cache";

/**
 * Whether a request may load the UI without an API key: a GET or HEAD outside `/v1` and the operator's `/ready` and
 * `/metrics`. The page holds nothing secret; the API calls it makes send the key.
 */
export function isPublicWebRequest(method: string, url: string): boolean {
  if (method !== "GET" && method !== "HEAD") return false;
  const pathname = url.split("?")[0] ?? "";
  if (pathname === "/v1" || pathname.startsWith("/v1/")) return false;
  return pathname !== "/ready" && pathname !== "/metrics";
}

/** Answers the GETs no route matched outside `/v1`: a file at the root of the build, else the page itself. */
export type WebFallback = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>;

/**
 * The web UI from `root` (default `dist/ui/`): `GET /` is index.html, `GET /assets/*` the hashed files, and the
 * returned fallback answers any other GET outside `/v1` with a file at the build's top level or index.html (the UI
 * routes on the client). Nothing outside `root` is ever served: a path with a `..` segment, a NUL or a backslash
 * is a 404, and so is a symbolic link out of it. Without a build, `/` is a 404 saying to run `npm run build`.
 */
export function registerWebRoutes(fastify: FastifyInstance, root: string = defaultWebRoot): WebFallback {
  const base = path.resolve(root);
  const realBase = () => realpath(base).catch(() => undefined);

  const notFound = (request: FastifyRequest, reply: FastifyReply, message: string) =>
    sendError(new AppError("NOT_FOUND", message), request, reply.headers(webSecurityHeaders));

  /** The real path of `relative` under the root when it is a regular file there, else undefined. */
  const resolveFile = async (relative: string): Promise<{ file: string; size: number } | undefined> => {
    if (relative.includes("\0") || relative.includes("\\")) return undefined;
    const segments = relative.split("/").filter((segment) => segment !== "");
    if (segments.some((segment) => segment === ".." || segment === ".")) return undefined;
    const within = await realBase();
    if (within === undefined) return undefined;
    try {
      const file = await realpath(path.join(base, ...segments));
      if (file !== within && !file.startsWith(within + path.sep)) return undefined;
      const info = await stat(file);
      return info.isFile() ? { file, size: info.size } : undefined;
    } catch {
      return undefined;
    }
  };

  const sendFile = (reply: FastifyReply, found: { file: string; size: number }, cache: string) => {
    const type = contentTypes[path.extname(found.file).toLowerCase()] ?? "application/octet-stream";
    return reply
      .headers(webSecurityHeaders)
      .header("content-type", type)
      .header("content-length", String(found.size))
      .header("cache-control", cache)
      .send(createReadStream(found.file));
  };

  const sendPage = async (request: FastifyRequest, reply: FastifyReply) => {
    const page = await resolveFile("index.html");
    if (page === undefined)
      return notFound(
        request,
        reply,
        "the web UI was not built: run `npm run build` (it builds the UI into dist/ui/)",
      );
    return sendFile(reply, page, pageCache);
  };

  fastify.get("/", sendPage);
  fastify.get("/assets/*", async (request, reply) => {
    const rest = (request.params as { "*"?: string })["*"] ?? "";
    const found = await resolveFile(`assets/${rest}`);
    // A missing module must fail as a 404, not as HTML the browser refuses to run.
    if (found === undefined) return notFound(request, reply, `no file /assets/${rest} in the web UI`);
    return sendFile(reply, found, assetCache);
  });

  return async (request, reply) => {
    const pathname = decodePath(request.url.split("?")[0] ?? "/");
    if (pathname === undefined || hasTraversal(pathname))
      return notFound(request, reply, "no such file in the web UI");
    const found = await resolveFile(pathname);
    return found === undefined ? sendPage(request, reply) : sendFile(reply, found, pageCache);
  };
}

function decodePath(pathname: string): string | undefined {
  try {
    return decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
}

function hasTraversal(pathname: string): boolean {
  return (
    pathname.includes("\0") ||
    pathname.includes("\\") ||
    pathname.split("/").some((segment) => segment === ".." || segment === ".")
  );
}
