import { z } from "zod";
import type { ActionDefinition } from "../scheduler.js";
import type { LoopPorts } from "../ports.js";

export const imageCacheExpiryArgs = z.object({}).strict();

export type ImageCacheExpiryArgs = z.infer<typeof imageCacheExpiryArgs>;

/**
 * `image_cache_expiry` (@hourly): removes prepared images unused for longer than `vision.cache.ttlDays` from the
 * image cache and reports what it freed.
 */
export function createImageCacheExpiry(ports: LoopPorts): ActionDefinition<ImageCacheExpiryArgs> {
  return {
    name: "image_cache_expiry",
    description: "Removes cached images unused for longer than vision.cache.ttlDays",
    args: imageCacheExpiryArgs,
    async run() {
      const cache = ports.imageCache;
      if (cache === undefined) return { skipped: "the image cache is turned off" };
      const { removed, freedBytes } = await cache.expire();
      return { removed, freedBytes, mbFreed: Math.round((freedBytes / 2 ** 20) * 100) / 100 };
    },
  };
}
