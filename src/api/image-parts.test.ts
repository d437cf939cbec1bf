import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/index.js";
import { AppError } from "../shared/index.js";
import { chatBodyLimitBytes, decodeDataUrl } from "./image-parts.js";

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

    it("refuses more bytes than allowed before decoding them", () => {
      const error = decodeError(`data:image/png;base64,${"A".repeat(4000)}`, 2999);
      expect(error.code).toBe("IMAGE_TOO_LARGE");
      expect(error.message).toMatch(/vision\.maxInputMb/);
      expect(decodeDataUrl(`data:image/png;base64,${"A".repeat(4000)}`, "p", 3000)).toHaveLength(3000);
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
