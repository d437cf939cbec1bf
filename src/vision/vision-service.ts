import type { ImageCache } from "./image-cache.js";
import {
  checkImageBytes,
  type ImagePreprocessOptions,
  type PreparedImage,
  preprocessImageDetailed,
  sha256Hex,
} from "./preprocess.js";

export interface VisionServiceOptions extends ImagePreprocessOptions {
  /** Where prepared images are kept; without one every image is prepared afresh (`cache: "off"`). */
  cache?: ImageCache;
}

/** Prepares chat images: validation, fitting, WebP, and the cache in front of it all. */
export class VisionService {
  readonly #options: ImagePreprocessOptions;
  readonly #cache: ImageCache | undefined;
  /** The preparation settings; cache entries made with other settings are never returned. */
  readonly #profile: string;
  #disposed = false;

  constructor(options: VisionServiceOptions) {
    const { cache, ...preprocess } = options;
    this.#options = preprocess;
    this.#cache = cache;
    this.#profile = `webp:${preprocess.maxSidePx}:${preprocess.webpQuality}`;
  }

  /** Exact SHA-256 hit → cached result without decoding; else preprocess, then a perceptual hit within the threshold returns the cached prepared image; else stores it. */
  async prepare(input: Buffer, where: string): Promise<PreparedImage> {
    checkImageBytes(input, this.#options, where);
    const cache = this.#disposed ? undefined : this.#cache;
    if (cache === undefined) {
      const { image } = await preprocessImageDetailed(input, this.#options, where);
      return { ...image, cache: "off" };
    }
    const sha256 = sha256Hex(input);
    const exact = cache.getExact(sha256, this.#profile);
    if (exact !== undefined) return exact;
    const { image, meanColour } = await preprocessImageDetailed(input, this.#options, where, sha256);
    const similar = cache.findSimilar(image, meanColour, this.#profile);
    if (similar !== undefined) return similar;
    cache.put(image, meanColour, this.#profile);
    return { ...image, cache: "miss" };
  }

  /** The cache's counters, or `undefined` without a cache. */
  stats(): ReturnType<ImageCache["stats"]> | undefined {
    return this.#cache?.stats();
  }

  /** The cache's hit rate, cheap enough for every metrics scrape; `undefined` without a cache. */
  hitRate(): number | undefined {
    return this.#cache?.hitRate();
  }

  /**
   * Changes the cache's size bound, evicting down to it at once (see {@link ImageCache.setMaxBytes}); `undefined`
   * without a cache.
   */
  setCacheMaxBytes(bytes: number): { removed: number; freedBytes: number } | undefined {
    return this.#cache?.setMaxBytes(bytes);
  }

  /** Expires unused cache entries (the proactive loop calls this); nothing to do without a cache. */
  expire(): { removed: number; freedBytes: number } {
    return this.#cache === undefined || this.#disposed ? { removed: 0, freedBytes: 0 } : this.#cache.expire();
  }

  /** Closes the cache it was given. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#cache?.close();
  }
}
