import sharp from "sharp";

/**
 * A 64-bit DCT perceptual hash (pHash): the greyscale image is resized to 32×32 and equalised, its 2-D DCT-II is taken, and
 * the 8×8 lowest frequencies are compared with their median (one bit each, 1 when above). Chosen over a dHash
 * (which compares neighbouring pixels of a 9×8 thumbnail) because low DCT frequencies are what JPEG
 * re-encoding and resizing leave alone, and comparing them with their own median makes the hash blind to
 * brightness and contrast changes (a uniform gain or offset moves every AC coefficient the same way); the DC
 * term stays in the 8×8 block so the hash keeps its usual 64 bits, and it is 1 for every non-black image.
 */

/** Side of the greyscale thumbnail the DCT is taken of. */
const thumbSide = 32;
/** Side of the block of low frequencies kept. */
const hashSide = 8;

/** `cosines[u * thumbSide + x]` = cos((2x + 1)uπ / 2N), for the `hashSide` frequencies kept. */
const cosines = (() => {
  const table = new Float64Array(hashSide * thumbSide);
  for (let u = 0; u < hashSide; u++) {
    for (let x = 0; x < thumbSide; x++) {
      table[u * thumbSide + x] = Math.cos(((2 * x + 1) * u * Math.PI) / (2 * thumbSide));
    }
  }
  return table;
})();

/** An already decoded image: interleaved 8-bit samples, 1–4 channels (grey, grey+alpha, RGB, RGBA). */
export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/**
 * The 64-bit perceptual hash of an image, as 16 lowercase hex digits.
 *
 * `input` is either encoded image bytes (any format sharp reads; EXIF orientation is applied first, so a
 * rotated-by-metadata copy hashes like the upright one) or a {@link RawImage} already decoded and oriented,
 * as {@link preprocessImage} passes it. Alpha is ignored. Hashes of two copies of one picture differ in few
 * bits ({@link hammingDistance}); unrelated pictures differ in about half of them.
 */
export async function perceptualHash(input: Buffer | RawImage): Promise<string> {
  const pipeline = Buffer.isBuffer(input)
    ? sharp(input, { autoOrient: true })
    : sharp(input.data, { raw: { width: input.width, height: input.height, channels: input.channels } });
  const grey = await pipeline
    .removeAlpha()
    .greyscale()
    .resize(thumbSide, thumbSide, { fit: "fill", kernel: "cubic" })
    .raw({ depth: "uchar" })
    .toBuffer({ resolveWithObject: true });
  const channels = grey.info.channels;
  const pixels = new Float64Array(thumbSide * thumbSide);
  for (let i = 0; i < pixels.length; i++) pixels[i] = grey.data[i * channels] ?? 0;
  equalize(pixels);
  return hashFromThumbnail(pixels);
}

/**
 * Replaces each sample by its rank (ties share their mean rank): histogram equalisation. The hash then
 * depends only on the order of the grey levels, so any monotonic brightness, contrast or gamma change leaves
 * it as it was, except where highlights clip. Measured on the bench set, it halves the worst distance of
 * +15% brightened copies at no cost in distance between distinct images.
 */
function equalize(pixels: Float64Array): void {
  const order = Array.from(pixels.keys()).sort((a, b) => (pixels[a] ?? 0) - (pixels[b] ?? 0));
  const ranks = new Float64Array(pixels.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && pixels[order[j + 1] ?? 0] === pixels[order[i] ?? 0]) j++;
    for (let k = i; k <= j; k++) ranks[order[k] ?? 0] = (i + j) / 2;
    i = j + 1;
  }
  pixels.set(ranks);
}

/** The hash of a 32×32 greyscale thumbnail (row-major). Separate from the decoding so it can be tested alone. */
export function hashFromThumbnail(pixels: Float64Array): string {
  // Rows first: for every row y, the kept frequencies u along x; then along y for each (u, v).
  const rows = new Float64Array(thumbSide * hashSide);
  for (let y = 0; y < thumbSide; y++) {
    for (let u = 0; u < hashSide; u++) {
      let sum = 0;
      for (let x = 0; x < thumbSide; x++)
        sum += (pixels[y * thumbSide + x] ?? 0) * (cosines[u * thumbSide + x] ?? 0);
      rows[y * hashSide + u] = sum;
    }
  }
  const coefficients = new Float64Array(hashSide * hashSide);
  for (let v = 0; v < hashSide; v++) {
    for (let u = 0; u < hashSide; u++) {
      let sum = 0;
      for (let y = 0; y < thumbSide; y++)
        sum += (rows[y * hashSide + u] ?? 0) * (cosines[v * thumbSide + y] ?? 0);
      coefficients[v * hashSide + u] = sum;
    }
  }
  const sorted = Float64Array.from(coefficients).sort();
  const median = ((sorted[31] ?? 0) + (sorted[32] ?? 0)) / 2;
  let hex = "";
  for (let nibble = 0; nibble < 16; nibble++) {
    let value = 0;
    for (let bit = 0; bit < 4; bit++) {
      value = (value << 1) | ((coefficients[nibble * 4 + bit] ?? 0) > median ? 1 : 0);
    }
    hex += value.toString(16);
  }
  return hex;
}

const hashPattern = /^[0-9a-f]{16}$/;

/** The two 32-bit halves of a hash, for fast comparisons. Throws a RangeError on anything but 16 hex digits. */
export function splitHash(hash: string): [high: number, low: number] {
  if (!hashPattern.test(hash)) throw new RangeError(`not a 64-bit hash (16 lowercase hex digits): ${hash}`);
  return [Number.parseInt(hash.slice(0, 8), 16), Number.parseInt(hash.slice(8), 16)];
}

/** Set bits in a 32-bit integer. */
export function popcount32(value: number): number {
  let v = value >>> 0;
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/** Bits that differ between two 64-bit hashes (16 hex digits each), 0–64. */
export function hammingDistance(a: string, b: string): number {
  const [aHigh, aLow] = splitHash(a);
  const [bHigh, bLow] = splitHash(b);
  return popcount32(aHigh ^ bHigh) + popcount32(aLow ^ bLow);
}
