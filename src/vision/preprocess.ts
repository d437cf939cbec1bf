import { createHash } from "node:crypto";
import sharp, { type Metadata, type OutputInfo } from "sharp";
import { AppError } from "../shared/index.js";
import { perceptualHash } from "./perceptual-hash.js";

export interface ImagePreprocessOptions {
  /** Images are fitted inside a square of this many pixels (aspect kept, never enlarged); `vision.maxSidePx`. */
  maxSidePx: number;
  /** WebP quality of the prepared image, 1–100; `vision.webpQuality`. */
  webpQuality: number;
  /** Largest encoded input accepted, in bytes, checked before anything is decoded; from `vision.maxInputMb`. */
  maxInputBytes: number;
  /** Most pixels (width × height, after the header is read) an input may have; more is a decompression bomb. */
  maxPixels: number;
}

export interface PreparedImage {
  /** The WebP bytes. */
  data: Buffer;
  mimeType: "image/webp";
  /** Size after fitting. */
  width: number;
  height: number;
  /** Size of the input after EXIF auto-orientation. */
  sourceWidth: number;
  sourceHeight: number;
  /** sharp's name of the input format: jpeg, png, webp, gif, tiff, heif (AVIF). */
  sourceFormat: string;
  sourceBytes: number;
  /** SHA-256 of the input bytes, hex. */
  sha256: string;
  /** 64-bit perceptual hash of the oriented image, 16 lowercase hex digits ({@link perceptualHash}). */
  phash: string;
  /** How this result was obtained: `exact` (same bytes seen before), `similar` (perceptual hash within the threshold), `miss`, or `off` (no cache). */
  cache: "exact" | "similar" | "miss" | "off";
}

/** Raster formats accepted, by their leading bytes. Vector and document formats (SVG, PDF) are refused. */
type Sniffed = "jpeg" | "png" | "gif" | "webp" | "tiff" | "heif";

function startsWith(input: Buffer, bytes: readonly number[], at = 0): boolean {
  return input.length >= at + bytes.length && bytes.every((byte, i) => input[at + i] === byte);
}

function ascii(input: Buffer, start: number, end: number): string {
  return input.subarray(start, end).toString("latin1");
}

/** The container format from the magic bytes, or a sentence saying what the bytes are instead. */
export function sniffImageFormat(input: Buffer): { format: Sniffed } | { problem: string } {
  if (startsWith(input, [0xff, 0xd8, 0xff])) return { format: "jpeg" };
  if (startsWith(input, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { format: "png" };
  if (ascii(input, 0, 6) === "GIF87a" || ascii(input, 0, 6) === "GIF89a") return { format: "gif" };
  if (ascii(input, 0, 4) === "RIFF" && ascii(input, 8, 12) === "WEBP") return { format: "webp" };
  if (startsWith(input, [0x49, 0x49, 0x2a, 0x00]) || startsWith(input, [0x4d, 0x4d, 0x00, 0x2a])) {
    return { format: "tiff" };
  }
  if (ascii(input, 4, 8) === "ftyp") return { format: "heif" };
  if (ascii(input, 0, 5) === "%PDF-") return { problem: "a PDF document is not accepted as an image" };
  const head = input.subarray(0, 1024).toString("utf8").trimStart().toLowerCase();
  if (
    head.startsWith("<?xml") ||
    head.startsWith("<svg") ||
    head.startsWith("<!doctype svg") ||
    head.includes("<svg")
  ) {
    return { problem: "SVG (vector) images are not accepted; send PNG, JPEG, WebP, GIF, TIFF or AVIF" };
  }
  if (startsWith(input, [0x1f, 0x8b]))
    return { problem: "gzip-compressed data (SVGZ?) is not an accepted image" };
  return { problem: "the data is not an image in an accepted format (PNG, JPEG, WebP, GIF, TIFF or AVIF)" };
}

/** libvips' wording of a failed decode, turned into what is wrong with the file. */
function describeDecodeFailure(format: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (
    /premature end|truncated|unexpected end|read error|not enough data|short read|end of file/i.test(message)
  ) {
    return `the image is truncated (${format} data ends early)`;
  }
  if (/unsupported|no decoder|compression format has not been built in/i.test(message)) {
    return `the ${format} image uses a variant this server cannot decode`;
  }
  return `the ${format} image is corrupt and cannot be decoded (${message.split("\n")[0] ?? "decode error"})`;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** Mean red, green and blue (0–255) of the prepared pixels; the cache checks it before a perceptual hit. */
export type MeanColour = readonly [red: number, green: number, blue: number];

/** The checks that need no decoding: empty input and `maxInputBytes`. */
export function checkImageBytes(input: Buffer, options: ImagePreprocessOptions, where: string): void {
  if (input.length === 0) {
    throw new AppError("IMAGE_INVALID", `${where}: the image is empty (0 bytes)`, { param: where });
  }
  if (input.length > options.maxInputBytes) {
    throw new AppError(
      "IMAGE_TOO_LARGE",
      `${where}: the image is ${mib(input.length)}, more than the ${mib(options.maxInputBytes)} allowed (vision.maxInputMb)`,
      { param: where },
    );
  }
}

/** SHA-256 of the bytes, hex. */
export function sha256Hex(input: Buffer): string {
  return createHash("sha256").update(input).digest("hex");
}

/**
 * Decodes an image, applies its EXIF orientation, fits it inside `maxSidePx`², and encodes it as WebP with no
 * metadata (EXIF, XMP and ICC are dropped; pixels are converted to sRGB). Also returns the input's SHA-256 and
 * the perceptual hash of the oriented image.
 *
 * Throws `IMAGE_TOO_LARGE` for inputs over `maxInputBytes` (checked before decoding) or over `maxPixels`
 * (checked from the header, before decoding), and `IMAGE_INVALID` for empty input, non-images, SVG/PDF,
 * truncated or corrupt files. `where` names the request field in the messages and as the error's `param`.
 */
export async function preprocessImage(
  input: Buffer,
  options: ImagePreprocessOptions,
  where: string,
): Promise<Omit<PreparedImage, "cache">> {
  return (await preprocessImageDetailed(input, options, where)).image;
}

/** {@link preprocessImage}, plus the mean colour the cache uses; `sha256` may be passed when already known. */
export async function preprocessImageDetailed(
  input: Buffer,
  options: ImagePreprocessOptions,
  where: string,
  sha256?: string,
): Promise<{ image: Omit<PreparedImage, "cache">; meanColour: MeanColour }> {
  const invalid = (problem: string, cause?: unknown) =>
    new AppError("IMAGE_INVALID", `${where}: ${problem}`, { param: where, cause });
  checkImageBytes(input, options, where);
  const sniffed = sniffImageFormat(input);
  if ("problem" in sniffed) throw invalid(sniffed.problem);

  let metadata: Metadata;
  try {
    // Header only; the pixel limit is checked below with a clearer message than libvips'.
    metadata = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw invalid(describeDecodeFailure(sniffed.format, error), error);
  }
  const format = metadata.format as string;
  if (!["jpeg", "png", "gif", "webp", "tiff", "heif"].includes(format)) {
    throw invalid(`${format} images are not accepted; send PNG, JPEG, WebP, GIF, TIFF or AVIF`);
  }
  const width = metadata.width;
  const height = metadata.height;
  if (!(width > 0 && height > 0)) throw invalid(`the ${format} image declares no size`);
  if (width * height > options.maxPixels) {
    throw new AppError(
      "IMAGE_TOO_LARGE",
      `${where}: the image is ${width}×${height} pixels, more than the ${options.maxPixels} allowed ` +
        "(vision.maxPixels; a decompression bomb?)",
      { param: where },
    );
  }

  let fitted: { data: Buffer; info: OutputInfo };
  try {
    fitted = await sharp(input, {
      autoOrient: true,
      failOn: "truncated",
      limitInputPixels: options.maxPixels,
    })
      .resize(options.maxSidePx, options.maxSidePx, { fit: "inside", withoutEnlargement: true })
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw invalid(describeDecodeFailure(format, error), error);
  }
  const channels = fitted.info.channels;
  const raw = { width: fitted.info.width, height: fitted.info.height, channels };
  const [data, phash] = await Promise.all([
    sharp(fitted.data, { raw }).webp({ quality: options.webpQuality }).toBuffer(),
    perceptualHash({ data: fitted.data, ...raw }),
  ]);
  const swapped = (metadata.orientation ?? 1) >= 5;
  const image: Omit<PreparedImage, "cache"> = {
    data,
    mimeType: "image/webp",
    width: raw.width,
    height: raw.height,
    sourceWidth: swapped ? height : width,
    sourceHeight: swapped ? width : height,
    sourceFormat: format,
    sourceBytes: input.length,
    sha256: sha256 ?? sha256Hex(input),
    phash,
  };
  return { image, meanColour: meanColourOf(fitted.data, channels) };
}

function meanColourOf(data: Buffer, channels: number): MeanColour {
  let red = 0;
  let green = 0;
  let blue = 0;
  const grey = channels < 3;
  for (let i = 0; i < data.length; i += channels) {
    const r = data[i] ?? 0;
    red += r;
    green += grey ? r : (data[i + 1] ?? 0);
    blue += grey ? r : (data[i + 2] ?? 0);
  }
  const count = Math.max(1, data.length / channels);
  return [red / count, green / count, blue / count];
}
