/**
 * Image parts of chat requests: from an `image_url` part's URL to prepared images on the inference port. Only
 * `data:` URLs with base64 bytes are read; SARAi never fetches a remote URL for a client (that would let any
 * client make this machine connect anywhere).
 */
import type { App } from "../app.js";
import type { ResolvedConfig } from "../config/index.js";
import type { ChatImage, ModelRole } from "../inference/index.js";
import { AbortedError, AppError } from "../shared/index.js";
import type { ChatCompletionRequest, SaraiImage } from "./wire.js";

/** An image part found in a request, not yet decoded. */
export interface ImagePartRef {
  /** The message it belongs to. */
  messageIndex: number;
  /** `messages[i].content[j]`, named by every error about it. */
  param: string;
  url: string;
}

/**
 * The body limit of the chat route: `server.bodyLimitKb`, plus room for one `vision.maxInputMb` image in base64
 * (4/3 of its bytes) when vision is on. Other routes keep `server.bodyLimitKb`.
 */
export function chatBodyLimitBytes(config: ResolvedConfig): number {
  const base = config.server.bodyLimitKb * 1024;
  if (!config.vision.enabled) return base;
  return base + Math.ceil((config.vision.maxInputMb * 2 ** 20 * 4) / 3);
}

/**
 * Keeps `server.bodyLimitKb` for everything but the images: the chat route's larger limit is room for image data
 * URLs only, so a body whose other bytes exceed `server.bodyLimitKb` is still a 413. Measured from
 * `content-length`; a chunked body is bounded by the route's limit alone.
 */
export function checkTextBudget(
  config: ResolvedConfig,
  contentLength: string | undefined,
  body: ChatCompletionRequest,
): void {
  const total = Number(contentLength);
  const limit = config.server.bodyLimitKb * 1024;
  if (!config.vision.enabled || !Number.isFinite(total) || total <= limit) return;
  let imageBytes = 0;
  for (const message of body.messages) {
    if (!Array.isArray(message.content)) continue;
    for (const part of message.content) {
      // Data URLs are ASCII when valid; an invalid one is refused later anyway.
      if (part.type === "image_url") imageBytes += part.image_url.url.length;
    }
  }
  if (total - imageBytes > limit) {
    throw new AppError(
      "PAYLOAD_TOO_LARGE",
      `the request body without its images is larger than server.bodyLimitKb (${config.server.bodyLimitKb} KiB)`,
    );
  }
}

/**
 * Checks what can be checked of an image part without decoding it: the message may carry images (user messages
 * only), image input is on, and the URL is a `data:` URL.
 */
export function checkImagePart(app: App, ref: ImagePartRef, messageRole: string): void {
  const { param, url } = ref;
  if (messageRole !== "user") {
    throw new AppError(
      "INVALID_REQUEST",
      `${param}: only user messages can carry images, not ${messageRole}`,
      {
        param,
      },
    );
  }
  if (app.vision === undefined) {
    throw new AppError("VISION_UNSUPPORTED", `${param}: image input is turned off (vision.enabled: false)`, {
      param,
    });
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url.slice(0, 32))?.[1]?.toLowerCase();
  if (scheme === "http" || scheme === "https") {
    throw new AppError(
      "INVALID_REQUEST",
      `${param}: fetching remote image URLs is turned off; send the image as a data: URL ` +
        `(data:image/png;base64,…)`,
      { param },
    );
  }
  if (scheme !== "data") {
    throw new AppError(
      "INVALID_REQUEST",
      `${param}: image_url.url must be a data: URL with base64 bytes (data:image/png;base64,…)`,
      { param },
    );
  }
}

/**
 * Refuses images the model of `role` cannot see, naming the first image part: a local model, or a remote one
 * without `vision: true`. Checked before any image is decoded.
 */
export function checkRoleSeesImages(app: App, role: ModelRole, first: ImagePartRef): void {
  const remote = app.config.models[role]?.remote;
  if (remote?.vision === true) return;
  const why =
    remote === undefined
      ? `the ${role} model runs here, and node-llama-cpp 3.22.1 runs text-only models; serve a vision model ` +
        `through a remote role with vision: true`
      : `the remote model ${remote.model} (models.${role}.remote) is not configured for images; set vision: true ` +
        `if it is a vision model`;
  throw new AppError("VISION_UNSUPPORTED", `${first.param}: ${why}`, { param: first.param });
}

/** Per ASCII code: 1 a base64 digit (standard or URL-safe alphabet), 2 whitespace, 3 padding, 0 refused. */
const base64Kinds = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_")
  base64Kinds[c.charCodeAt(0)] = 1;
for (const c of " \t\n\r\f\v") base64Kinds[c.charCodeAt(0)] = 2;
base64Kinds[0x3d] = 3;

/**
 * The base64 digits in `payload`, or `undefined` when it holds anything else or more than two `=` that are not all
 * at the end. ASCII whitespace is skipped: some clients wrap base64 at 76 columns, as MIME does. One pass with
 * `charCodeAt` and no regular expression, so that its time is linear in the length whatever a client sends: the
 * `/=+$/` this replaces retried at every `=` of a run not at the end (100 000 took 3 s).
 */
function countBase64Digits(payload: string): number | undefined {
  let digits = 0;
  let padding = 0;
  for (let i = 0; i < payload.length; i++) {
    const code = payload.charCodeAt(i);
    const kind = code < 128 ? base64Kinds[code] : 0;
    if (kind === 1) {
      if (padding !== 0) return undefined;
      digits += 1;
    } else if (kind === 3) {
      padding += 1;
      if (padding > 2) return undefined;
    } else if (kind !== 2) {
      return undefined;
    }
  }
  return digits;
}

/** The bytes of a base64 `data:` URL; a malformed one is `IMAGE_INVALID`, too many bytes `IMAGE_TOO_LARGE`. */
export function decodeDataUrl(url: string, param: string, maxBytes: number): Buffer {
  const comma = url.indexOf(",");
  const invalid = (why: string) => new AppError("IMAGE_INVALID", `${param}: ${why}`, { param });
  if (!url.slice(0, 5).toLowerCase().startsWith("data:") || comma === -1 || comma > 256) {
    throw invalid("malformed data: URL (expected data:<image type>;base64,<bytes>)");
  }
  const header = url.slice(5, comma).split(";");
  const mediaType = header[0]?.trim().toLowerCase() ?? "";
  if (header.length < 2 || header[header.length - 1]?.trim().toLowerCase() !== "base64") {
    throw invalid("the data: URL must carry base64 bytes (data:<image type>;base64,…)");
  }
  if (mediaType !== "" && !mediaType.startsWith("image/")) {
    throw invalid(`the data: URL declares ${mediaType.slice(0, 64)}, not an image`);
  }
  const payload = url.slice(comma + 1);
  const digits = countBase64Digits(payload);
  if (digits === 0) throw invalid("the data: URL has no bytes");
  if (digits === undefined || digits % 4 === 1) throw invalid("the data: URL's bytes are not valid base64");
  const size = Math.floor((digits * 3) / 4);
  if (size > maxBytes) {
    throw new AppError(
      "IMAGE_TOO_LARGE",
      `${param}: the image is ${formatMb(size)} MiB, over vision.maxInputMb (${formatMb(maxBytes)} MiB)`,
      { param },
    );
  }
  // Node's decoder skips the whitespace that countBase64Digits allowed.
  return Buffer.from(payload, "base64");
}

/**
 * Decodes and prepares each image part (fitted, WebP, through the cache) and attaches the results to their
 * messages, in request order. Returns what was done to each, for the response's `sarai.images`.
 *
 * More parts than `vision.maxImages` is `INVALID_REQUEST` naming the first one over, before anything is decoded.
 * `signal` (the request's) is checked before each image, so a request the client gave up on or that timed out
 * stops being decoded: `ABORTED`, carrying the signal's reason.
 */
export async function prepareImageParts(
  app: Pick<App, "config" | "metrics" | "vision">,
  refs: readonly ImagePartRef[],
  attach: (messageIndex: number, image: ChatImage) => void,
  signal: AbortSignal,
): Promise<SaraiImage[]> {
  const vision = app.vision;
  if (vision === undefined) return [];
  const { maxImages } = app.config.vision;
  const over = refs[maxImages];
  if (over !== undefined) {
    throw new AppError(
      "INVALID_REQUEST",
      `${over.param}: the request has ${refs.length} images, over vision.maxImages (${maxImages})`,
      { param: over.param },
    );
  }
  const maxBytes = app.config.vision.maxInputMb * 2 ** 20;
  const report: SaraiImage[] = [];
  for (const ref of refs) {
    if (signal.aborted) {
      throw new AbortedError(`image preparation aborted before ${ref.param}`, { cause: signal.reason });
    }
    const bytes = decodeDataUrl(ref.url, ref.param, maxBytes);
    const prepared = await vision.prepare(bytes, ref.param);
    app.metrics.imagesPrepared.inc({ cache: prepared.cache });
    attach(ref.messageIndex, { data: prepared.data, mimeType: prepared.mimeType });
    report.push({
      width: prepared.width,
      height: prepared.height,
      bytes: prepared.data.length,
      cache: prepared.cache,
    });
  }
  return report;
}

function formatMb(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 1);
}
