import { createRandom } from "../shared/index.js";
import type { RawImage } from "./perceptual-hash.js";

/**
 * Deterministic photo-like test pictures for the vision tests and `bench/vision`: a two-colour gradient in a
 * random direction, soft low-frequency "lighting" (a few random sinusoids), 4–14 random rectangles, circles
 * and ellipses with soft edges, and per-pixel grain. No text. The same seed gives the same pixels.
 */
export interface SyntheticPhotoOptions {
  seed: number;
  width: number;
  height: number;
}

/** An RGB picture (3 channels) as raw 8-bit samples. */
export function renderSyntheticPhoto({ seed, width, height }: SyntheticPhotoOptions): RawImage {
  const next = createRandom(seed * 2654435761 + 1);
  const colour = () => [next() * 255, next() * 255, next() * 255] as const;
  const pixels = new Float32Array(width * height * 3);

  const from = colour();
  const to = colour();
  const angle = next() * Math.PI * 2;
  const dx = Math.cos(angle) / width;
  const dy = Math.sin(angle) / height;
  const waves = Array.from({ length: 3 }, () => ({
    fx: (next() * 6 + 0.5) / width,
    fy: (next() * 6 + 0.5) / height,
    phase: next() * Math.PI * 2,
    amplitude: 10 + next() * 30,
  }));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = Math.min(1, Math.max(0, 0.5 + (x - width / 2) * dx + (y - height / 2) * dy));
      let light = 0;
      for (const w of waves) light += w.amplitude * Math.sin(2 * Math.PI * (x * w.fx + y * w.fy) + w.phase);
      const i = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) pixels[i + c] = (from[c] ?? 0) * (1 - t) + (to[c] ?? 0) * t + light;
    }
  }

  const shapes = 4 + Math.floor(next() * 11);
  const scale = Math.min(width, height);
  for (let s = 0; s < shapes; s++) {
    const fill = colour();
    const opacity = 0.5 + next() * 0.5;
    const cx = next() * width;
    const cy = next() * height;
    const rx = scale * (0.05 + next() * 0.3);
    const ry = next() < 0.4 ? rx : scale * (0.05 + next() * 0.3);
    const box = next() < 0.4;
    const soft = 0.02 + next() * 0.1;
    const x0 = Math.max(0, Math.floor(cx - rx - 2));
    const x1 = Math.min(width, Math.ceil(cx + rx + 2));
    const y0 = Math.max(0, Math.floor(cy - ry - 2));
    const y1 = Math.min(height, Math.ceil(cy + ry + 2));
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const u = Math.abs(x - cx) / rx;
        const v = Math.abs(y - cy) / ry;
        const d = box ? Math.max(u, v) : Math.hypot(u, v);
        if (d >= 1) continue;
        const alpha = opacity * Math.min(1, (1 - d) / soft);
        const i = (y * width + x) * 3;
        for (let c = 0; c < 3; c++)
          pixels[i + c] = (pixels[i + c] ?? 0) * (1 - alpha) + (fill[c] ?? 0) * alpha;
      }
    }
  }

  const grain = 4 + next() * 10;
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i++) {
    data[i] = Math.min(255, Math.max(0, Math.round((pixels[i] ?? 0) + (next() - 0.5) * grain)));
  }
  return { data, width, height, channels: 3 };
}
