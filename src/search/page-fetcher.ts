import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import { Readability } from "@mozilla/readability";
import { parseHTML } from "linkedom";

export interface PageFetchOptions {
  /** Bytes read of the body; the download stops there. */
  maxBytes: number;
  /** Longest wait for the whole page, in ms. */
  timeoutMs: number;
  maxRedirects: number;
  /** Fetch loopback, private and link-local addresses (tests, intranets). */
  allowPrivateAddresses: boolean;
  /** Characters of readable text kept. */
  maxChars: number;
}

/** A page read for the prompt, or why it was skipped. */
export type FetchedPage =
  | { ok: true; url: string; title: string | undefined; text: string; truncated: boolean }
  | { ok: false; url: string; reason: string };

const readableTypes = ["text/html", "application/xhtml+xml", "text/plain"];

const privateRanges = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const)
  privateRanges.addSubnet(net, prefix, "ipv4");
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const)
  privateRanges.addSubnet(net, prefix, "ipv6");

/** Whether an IP address is loopback, private, link-local, multicast or unspecified (IPv4-mapped included). */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) return privateRanges.check(mapped[1], "ipv4");
  const family = isIP(address);
  if (family === 0) return true;
  return privateRanges.check(address, family === 4 ? "ipv4" : "ipv6");
}

/**
 * Fetches one result page: http(s) only, no private addresses unless allowed (every redirect hop is checked),
 * at most `maxRedirects` redirects, HTML or plain text only, the body read up to `maxBytes`, all within
 * `timeoutMs`. Never throws: a page that cannot be read is `{ ok: false, reason }`.
 */
export async function fetchPage(
  url: string,
  options: PageFetchOptions,
  signal: AbortSignal,
): Promise<FetchedPage> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const combined = AbortSignal.any([signal, timeout]);
  let current = url;
  try {
    for (let hop = 0; ; hop++) {
      const target = new URL(current);
      if (target.protocol !== "http:" && target.protocol !== "https:")
        return { ok: false, url, reason: `not http(s): ${target.protocol}` };
      if (!options.allowPrivateAddresses && (await resolvesPrivate(target.hostname)))
        return { ok: false, url, reason: `${target.hostname} is a private or loopback address` };
      const response = await fetch(target, {
        redirect: "manual",
        signal: combined,
        headers: { accept: "text/html,application/xhtml+xml,text/plain;q=0.8", "user-agent": "SARAi" },
      });
      if (response.status >= 300 && response.status < 400 && response.headers.has("location")) {
        await response.body?.cancel();
        if (hop >= options.maxRedirects) return { ok: false, url, reason: "too many redirects" };
        current = new URL(response.headers.get("location") as string, target).href;
        continue;
      }
      if (!response.ok) {
        await response.body?.cancel();
        return { ok: false, url, reason: `HTTP ${response.status}` };
      }
      const type = (response.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
      if (!readableTypes.includes(type)) {
        await response.body?.cancel();
        return { ok: false, url, reason: `not a readable page (${type || "no content type"})` };
      }
      const { bytes, truncated } = await readAtMost(response, options.maxBytes);
      const decoded = new TextDecoder(charsetOf(response.headers.get("content-type"))).decode(bytes);
      const page =
        type === "text/plain"
          ? { title: undefined, text: collapse(decoded) }
          : extractReadableText(decoded, current);
      const text =
        page.text.length > options.maxChars ? `${page.text.slice(0, options.maxChars)}…` : page.text;
      return { ok: true, url: current, title: page.title, text, truncated: truncated || text !== page.text };
    }
  } catch (error) {
    if (timeout.aborted) return { ok: false, url, reason: `no answer within ${options.timeoutMs} ms` };
    if (signal.aborted) throw signal.reason;
    return { ok: false, url, reason: error instanceof Error ? error.message : String(error) };
  }
}

/** The little of a DOM that text extraction uses (linkedom's types lean on the DOM lib this project leaves out). */
interface TextElement {
  textContent: string | null;
  remove(): void;
}
interface TextDocument {
  documentElement: TextElement | null;
  querySelector(selector: string): TextElement | null;
  querySelectorAll(selector: string): Iterable<TextElement>;
}

function parseDocument(html: string): TextDocument {
  return (parseHTML(html) as unknown as { document: TextDocument }).document;
}

/** The readable text of an HTML page (Readability on a linkedom document), whitespace collapsed. */
export function extractReadableText(html: string, url: string): { title: string | undefined; text: string } {
  const document = parseDocument(html);
  const title = document.querySelector("title")?.textContent?.trim() || undefined;
  let text: string;
  try {
    // Readability reads `documentURI` for relative links; linkedom's document has no URL of its own.
    Object.defineProperty(document, "documentURI", { value: url, configurable: true });
    text = new Readability(document).parse()?.textContent ?? "";
  } catch {
    text = "";
  }
  if (text.trim() === "") {
    const fresh = parseDocument(html);
    for (const element of fresh.querySelectorAll("script, style, noscript, template")) element.remove();
    text = fresh.querySelector("body")?.textContent ?? fresh.documentElement?.textContent ?? "";
  }
  return { title, text: collapse(text) };
}

async function readAtMost(
  response: Response,
  maxBytes: number,
): Promise<{ bytes: Uint8Array; truncated: boolean }> {
  const reader = response.body?.getReader();
  if (reader === undefined) return { bytes: new Uint8Array(), truncated: false };
  const chunks: Uint8Array[] = [];
  let total = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = (await reader.read()) as { done: boolean; value?: Uint8Array };
    if (done || value === undefined) break;
    if (total + value.length > maxBytes) {
      chunks.push(value.subarray(0, maxBytes - total));
      total = maxBytes;
      truncated = true;
      // Stop downloading: the rest of the page is never read.
      await reader.cancel();
      break;
    }
    chunks.push(value);
    total += value.length;
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return { bytes, truncated };
}

async function resolvesPrivate(hostname: string): Promise<boolean> {
  const host = hostname.replace(/^\[|\]$/g, "");
  if (isIP(host) !== 0) return isPrivateAddress(host);
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  try {
    const addresses = await lookup(host, { all: true });
    return addresses.some((entry) => isPrivateAddress(entry.address));
  } catch {
    // An unknown host fails the fetch itself, with its own reason.
    return false;
  }
}

function charsetOf(contentType: string | null): string {
  const charset = /charset=["']?([\w-]+)/i.exec(contentType ?? "")?.[1]?.toLowerCase();
  try {
    return charset === undefined ? "utf-8" : (new TextDecoder(charset), charset);
  } catch {
    return "utf-8";
  }
}

function collapse(text: string): string {
  return text
    .replace(/[ \t\f\v\u00a0]+/g, " ")
    .replace(/\s*\n\s*/g, "\n")
    .replace(/\n{2,}/g, "\n")
    .trim();
}
