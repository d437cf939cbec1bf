import { crc32 } from "node:zlib";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { AppError } from "../shared/index.js";
import { type ImagePreprocessOptions, preprocessImage } from "./preprocess.js";
import { renderSyntheticPhoto } from "./synthetic-image.js";

const options: ImagePreprocessOptions = {
  maxSidePx: 512,
  webpQuality: 85,
  maxInputBytes: 20 * 2 ** 20,
  maxPixels: 50_000_000,
};
const where = "messages[1].content[0]";

function photo(seed: number, width: number, height: number) {
  const raw = renderSyntheticPhoto({ seed, width, height });
  return sharp(raw.data, { raw: { width, height, channels: raw.channels } });
}

async function rejection(input: Buffer, opts = options): Promise<AppError> {
  const error = await preprocessImage(input, opts, where).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  const appError = error as AppError;
  expect(appError.param).toBe(where);
  expect(appError.message.startsWith(`${where}: `)).toBe(true);
  return appError;
}

describe("vision", () => {
  describe("preprocessImage", () => {
    it("fits a large image inside 512×512 keeping its aspect", async () => {
      const input = await photo(1, 1600, 900).jpeg({ quality: 90 }).toBuffer();
      const prepared = await preprocessImage(input, options, where);
      expect([prepared.width, prepared.height]).toEqual([512, 288]);
      expect([prepared.sourceWidth, prepared.sourceHeight]).toEqual([1600, 900]);
      expect(prepared.sourceFormat).toBe("jpeg");
      expect(prepared.sourceBytes).toBe(input.length);
      expect(prepared.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(prepared.phash).toMatch(/^[0-9a-f]{16}$/);
      const decoded = await sharp(prepared.data).metadata();
      expect([decoded.width, decoded.height]).toEqual([512, 288]);
    });

    it("never enlarges a small image", async () => {
      const input = await photo(2, 200, 120).png().toBuffer();
      const prepared = await preprocessImage(input, options, where);
      expect([prepared.width, prepared.height]).toEqual([200, 120]);
      expect(prepared.sourceFormat).toBe("png");
    });

    it("writes WebP without EXIF", async () => {
      const input = await photo(3, 640, 480)
        .withExif({ IFD0: { Copyright: "someone", Software: "camera" } })
        .jpeg()
        .toBuffer();
      expect((await sharp(input).metadata()).exif).toBeDefined();
      const prepared = await preprocessImage(input, options, where);
      expect(prepared.mimeType).toBe("image/webp");
      expect(prepared.data.subarray(0, 4).toString("latin1")).toBe("RIFF");
      expect(prepared.data.subarray(8, 12).toString("latin1")).toBe("WEBP");
      const decoded = await sharp(prepared.data).metadata();
      expect(decoded.format).toBe("webp");
      expect(decoded.exif).toBeUndefined();
      expect(decoded.icc).toBeUndefined();
    });

    it("applies EXIF orientation 6 (width and height swap)", async () => {
      const input = await photo(4, 300, 200).jpeg().withMetadata({ orientation: 6 }).toBuffer();
      const prepared = await preprocessImage(input, options, where);
      expect([prepared.width, prepared.height]).toEqual([200, 300]);
      expect([prepared.sourceWidth, prepared.sourceHeight]).toEqual([200, 300]);
    });

    it("refuses a text file", async () => {
      const error = await rejection(Buffer.from("hello, this is not a picture\n"));
      expect(error.code).toBe("IMAGE_INVALID");
      expect(error.status).toBe(400);
      expect(error.message).toMatch(/not an image/);
    });

    it("refuses empty input", async () => {
      const error = await rejection(Buffer.alloc(0));
      expect(error.code).toBe("IMAGE_INVALID");
      expect(error.message).toBe(`${where}: the image is empty (0 bytes)`);
    });

    it("refuses a JPEG cut in half", async () => {
      const full = await photo(5, 800, 600).jpeg({ quality: 85 }).toBuffer();
      const error = await rejection(full.subarray(0, full.length >> 1));
      expect(error.code).toBe("IMAGE_INVALID");
      expect(error.message).toBe(`${where}: the image is truncated (jpeg data ends early)`);
    });

    it("refuses a PNG cut in half", async () => {
      const full = await photo(6, 800, 600).png().toBuffer();
      const error = await rejection(full.subarray(0, full.length >> 1));
      expect(error.code).toBe("IMAGE_INVALID");
      expect(error.message).toBe(`${where}: the image is truncated (png data ends early)`);
    });

    it("refuses a decompression bomb (a tiny PNG declaring 20000×20000) before decoding", async () => {
      const png = Buffer.from(await photo(7, 1, 1).png().toBuffer());
      png.writeUInt32BE(20_000, 16);
      png.writeUInt32BE(20_000, 20);
      png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
      expect(png.length).toBeLessThan(200);
      const error = await rejection(png);
      expect(error.code).toBe("IMAGE_TOO_LARGE");
      expect(error.status).toBe(413);
      expect(error.message).toMatch(/20000×20000 pixels, more than the 50000000 allowed/);
    });

    it("refuses a real image over maxPixels", async () => {
      const input = await photo(8, 400, 300).png().toBuffer();
      const error = await rejection(input, { ...options, maxPixels: 100_000 });
      expect(error.code).toBe("IMAGE_TOO_LARGE");
      expect(error.message).toMatch(/400×300 pixels/);
    });

    it("refuses input over maxInputBytes without decoding it", async () => {
      // Not an image at all: the size check must come first.
      const error = await rejection(Buffer.alloc(3 * 2 ** 20, 0x41), { ...options, maxInputBytes: 2 ** 20 });
      expect(error.code).toBe("IMAGE_TOO_LARGE");
      expect(error.message).toMatch(/3\.0 MiB, more than the 1\.0 MiB allowed/);
    });

    it("refuses SVG", async () => {
      const svg =
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64"/></svg>';
      for (const text of [svg, `<?xml version="1.0"?>\n${svg}`]) {
        const error = await rejection(Buffer.from(text));
        expect(error.code).toBe("IMAGE_INVALID");
        expect(error.message).toMatch(/SVG/);
      }
    });

    it("refuses PDF", async () => {
      const error = await rejection(Buffer.from("%PDF-1.7\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\n"));
      expect(error.code).toBe("IMAGE_INVALID");
      expect(error.message).toMatch(/PDF/);
    });

    it("refuses a corrupt JPEG body", async () => {
      const full = Buffer.from(await photo(9, 320, 240).jpeg().toBuffer());
      full.fill(0x00, 20, full.length - 2);
      const error = await rejection(full);
      expect(error.code).toBe("IMAGE_INVALID");
    });

    it("accepts WebP, GIF and TIFF inputs", async () => {
      const image = photo(10, 300, 200);
      for (const [format, encoded] of [
        ["webp", await image.clone().webp().toBuffer()],
        ["gif", await image.clone().gif().toBuffer()],
        ["tiff", await image.clone().tiff().toBuffer()],
      ] as const) {
        const prepared = await preprocessImage(encoded, options, where);
        expect(prepared.sourceFormat).toBe(format);
        expect([prepared.width, prepared.height]).toEqual([300, 200]);
      }
    });
  });
});
