import { describe, expect, it } from "vitest";
import { AppError } from "../../shared/index.js";
import {
  assertTensorShapeFits,
  convertFromHalfBits,
  convertToHalfBits,
  decodeQ8Blocks,
  getTensorByteLength,
  TensorEncoder,
} from "./tensor-encoding.js";

function concatenate(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((part) => [...part]));
}

describe("tensor encoding", () => {
  describe("half precision", () => {
    it("encodes exact values to their IEEE bits", () => {
      expect(convertToHalfBits(0)).toBe(0x0000);
      expect(convertToHalfBits(-0)).toBe(0x8000);
      expect(convertToHalfBits(1)).toBe(0x3c00);
      expect(convertToHalfBits(-2)).toBe(0xc000);
      expect(convertToHalfBits(65504)).toBe(0x7bff);
      expect(convertToHalfBits(2 ** -24)).toBe(0x0001);
      expect(convertToHalfBits(Infinity)).toBe(0x7c00);
    });

    it("rounds to nearest even, overflows to infinity and underflows to zero", () => {
      // 1 + 2^-11 is halfway between 1 and the next half (1 + 2^-10): ties go to the even mantissa.
      expect(convertToHalfBits(1 + 2 ** -11)).toBe(0x3c00);
      expect(convertToHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
      expect(convertToHalfBits(70000)).toBe(0x7c00);
      expect(convertToHalfBits(2 ** -26)).toBe(0x0000);
      expect(Number.isNaN(convertFromHalfBits(convertToHalfBits(NaN)))).toBe(true);
    });

    it("round-trips every finite half value", () => {
      const mismatches: number[] = [];
      for (let bits = 0; bits < 0x10000; bits++) {
        if ((bits & 0x7c00) === 0x7c00) continue;
        if (convertToHalfBits(convertFromHalfBits(bits)) !== bits) mismatches.push(bits);
      }
      expect(mismatches).toEqual([]);
    });
  });

  describe("Q8_0", () => {
    it("stores an f16 scale of absmax/127 and values rounded half away from zero", () => {
      const values = new Float32Array(32);
      values[0] = 1.27;
      values[1] = -1.27;
      values[2] = 0.025; // 2.5 steps of 0.01 → 3
      values[3] = -0.025; // → -3
      const bytes = new TensorEncoder("Q8_0").encode(values);
      expect(bytes.length).toBe(34);
      const view = new DataView(bytes.buffer);
      expect(view.getUint16(0, true)).toBe(convertToHalfBits(0.01));
      expect([view.getInt8(2), view.getInt8(3), view.getInt8(4), view.getInt8(5), view.getInt8(6)]).toEqual([
        127, -127, 3, -3, 0,
      ]);
      const decoded = decodeQ8Blocks(bytes);
      expect(decoded[0]).toBeCloseTo(1.27, 2);
      expect(decoded[3]).toBeCloseTo(-0.03, 3);
    });

    it("gives the same bytes whatever the chunk boundaries", () => {
      const values = Float32Array.from({ length: 96 }, (_, i) => Math.sin(i) * (i + 1));
      const whole = new TensorEncoder("Q8_0").encode(values);
      const encoder = new TensorEncoder("Q8_0");
      const parts = [0, 7, 40, 41, 90, 96].slice(1).map((end, i, ends) => {
        const start = i === 0 ? 0 : (ends[i - 1] ?? 0);
        return encoder.encode(values.subarray(start, end));
      });
      encoder.finish();
      expect(concatenate(parts)).toEqual(whole);
      expect(whole.length).toBe(getTensorByteLength("Q8_0", 96));
    });

    it("fails when the data ends inside a block", () => {
      const encoder = new TensorEncoder("Q8_0");
      encoder.encode(new Float32Array(40));
      expect(() => encoder.finish()).toThrow(/ended inside a block/);
    });

    it("rejects a row length that is not a multiple of 32 with a clear error", () => {
      expect(() => assertTensorShapeFits("blk.0.ffn_down.weight", [48, 64], "Q8_0")).toThrow(AppError);
      expect(() => assertTensorShapeFits("blk.0.ffn_down.weight", [48, 64], "Q8_0")).toThrow(
        /"blk\.0\.ffn_down\.weight" has rows of 48 values, but Q8_0 needs a row length that is a multiple of 32/,
      );
      expect(() => assertTensorShapeFits("x", [48, 64], "F16")).not.toThrow();
    });
  });

  describe("F16 and F32", () => {
    it("encodes little-endian values", () => {
      const values = Float32Array.from([1, -2, 0.5]);
      const f16 = new DataView(new TensorEncoder("F16").encode(values).buffer);
      expect([f16.getUint16(0, true), f16.getUint16(2, true), f16.getUint16(4, true)]).toEqual([
        0x3c00, 0xc000, 0x3800,
      ]);
      const f32 = new DataView(new TensorEncoder("F32").encode(values).buffer);
      expect([f32.getFloat32(0, true), f32.getFloat32(4, true), f32.getFloat32(8, true)]).toEqual([
        1, -2, 0.5,
      ]);
    });
  });
});
