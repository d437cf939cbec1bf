import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/index.js";
import { createMetrics } from "../observability/index.js";
import { AppError } from "../shared/index.js";
import { VisionService } from "../vision/index.js";
import { chatBodyLimitBytes, decodeDataUrl, type ImagePartRef, prepareImageParts } from "./image-parts.js";

const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xfb, 0xff, 0xfe, 0x00, 0x01]);
const base64 = bytes.toString("base64");

function decodeError(url: string, maxBytes = 1024): AppError {
  try {
    decodeDataUrl(url, "messages[0].content[1]", maxBytes);
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error(`expected ${url} to be refused`);
}

describe("api", () => {
  describe("decodeDataUrl", () => {
    it("reads base64 with or without a media type, padding, line wrapping, or the URL-safe alphabet", () => {
      const unpadded = base64.replace(/=+$/, "");
      const wrapped = `${base64.slice(0, 4)}\r\n${base64.slice(4)}`;
      const urlSafe = base64.replaceAll("+", "-").replaceAll("/", "_");
      for (const url of [
        `data:image/png;base64,${base64}`,
        `DATA:IMAGE/PNG;BASE64,${base64}`,
        `data:;base64,${base64}`,
        `data:image/png;name=x.png;base64,${unpadded}`,
        `data:image/png;base64,${wrapped}`,
        `data:image/png;base64,${urlSafe}`,
      ]) {
        expect(decodeDataUrl(url, "p", 1024).equals(bytes)).toBe(true);
      }
    });

    it("refuses malformed URLs with IMAGE_INVALID naming the part", () => {
      for (const url of [
        "data:image/png;base64",
        "data:image/png,abcd",
        "data:image/png;base64,",
        "data:image/png;base64,====",
        "data:image/png;base64,abcde",
        "data:image/png;base64,ab=cd",
        "data:image/png;base64,ab*d",
        "data:text/plain;base64,aGVsbG8=",
        `data:image/png;x=${"a".repeat(300)};base64,${base64}`,
      ]) {
        const error = decodeError(url);
        expect(error.code, url).toBe("IMAGE_INVALID");
        expect(error.param).toBe("messages[0].content[1]");
        expect(error.message.startsWith("messages[0].content[1]: ")).toBe(true);
      }
    });

    it("refuses long runs of = anywhere in the bytes in linear time", () => {
      // /=+$/ took 3 s on the first; a test timeout cannot interrupt synchronous code, so the time is asserted
      // (a linear check takes about a millisecond). The later ones are as long as a request may be.
      for (const payload of [
        `A${"=".repeat(100_000)}A`,
        `${"A".repeat(4)}${"=".repeat(2_000_000)}AAAA`,
        `${"=".repeat(2_000_000)}A`,
        "AB==".repeat(500_000),
        "A\n=".repeat(700_000),
      ]) {
        const started = performance.now();
        const error = decodeError(`data:image/png;base64,${payload}`, 30 * 2 ** 20);
        expect(performance.now() - started, payload.slice(0, 16)).toBeLessThan(1000);
        expect(error.code).toBe("IMAGE_INVALID");
        expect(error.message).toMatch(/not valid base64/);
      }
    });

    it("refuses more bytes than allowed before decoding them", () => {
      const error = decodeError(`data:image/png;base64,${"A".repeat(4000)}`, 2999);
      expect(error.code).toBe("IMAGE_TOO_LARGE");
      expect(error.message).toMatch(/vision\.maxInputMb/);
      expect(decodeDataUrl(`data:image/png;base64,${"A".repeat(4000)}`, "p", 3000)).toHaveLength(3000);
    });
  });

  describe("prepareImageParts", () => {
    const config = (maxImages?: number) =>
      loadConfig({ env: { HOME: "/nonexistent" }, overrides: { vision: { maxImages } } }).config;
    const vision = new VisionService({
      maxSidePx: 64,
      webpQuality: 80,
      maxInputBytes: 2 ** 20,
      maxPixels: 1e6,
    });
    const refs = (urls: readonly string[]): ImagePartRef[] =>
      urls.map((url, i) => ({ messageIndex: 0, param: `messages[0].content[${i + 1}]`, url }));

    it("refuses more parts than vision.maxImages, naming the first over, before decoding any", async () => {
      // Not base64 at all: decoding any of them would be IMAGE_INVALID instead.
      const app = { config: config(3), metrics: createMetrics(), vision };
      const error = await prepareImageParts(
        app,
        refs(Array.from({ length: 5 }, () => "data:image/png;base64,@@@@")),
        () => undefined,
        new AbortController().signal,
      ).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "INVALID_REQUEST", param: "messages[0].content[4]" });
      expect((error as AppError).message).toMatch(
        /^messages\[0\]\.content\[4\]: .*5 images.*vision\.maxImages \(3\)/,
      );
      expect(config().vision.maxImages).toBe(8);
    });

    it("stops between images once the request is aborted", async () => {
      const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#369" } })
        .png()
        .toBuffer();
      const url = `data:image/png;base64,${png.toString("base64")}`;
      const app = { config: config(), metrics: createMetrics(), vision };
      const controller = new AbortController();
      const attached: number[] = [];
      const error = await prepareImageParts(
        app,
        refs([url, url, url]),
        (index) => {
          attached.push(index);
          controller.abort(new Error("client went away"));
        },
        controller.signal,
      ).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "ABORTED" });
      expect((error as AppError).message).toMatch(/before messages\[0\]\.content\[2\]/);
      expect((error as AppError).cause).toMatchObject({ message: "client went away" });
      expect(attached).toEqual([0]);
    });
  });

  describe("chatBodyLimitBytes", () => {
    it("adds one base64 image of vision.maxInputMb to server.bodyLimitKb when vision is on", () => {
      const load = (vision: { enabled?: boolean; maxInputMb?: number }) =>
        loadConfig({ env: { HOME: "/nonexistent" }, overrides: { server: { bodyLimitKb: 100 }, vision } })
          .config;
      expect(chatBodyLimitBytes(load({ enabled: true, maxInputMb: 3 }))).toBe(100 * 1024 + 4 * 2 ** 20);
      expect(chatBodyLimitBytes(load({ enabled: false, maxInputMb: 3 }))).toBe(100 * 1024);
    });
  });
});
