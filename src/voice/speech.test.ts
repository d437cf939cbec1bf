import { describe, expect, it } from "vitest";
import { inspectWav } from "../../test/wav-helpers.js";
import { isAppError } from "../shared/index.js";
import { fixWavSizes, SpeechSynthesizer } from "./speech.js";

const synthesizer = new SpeechSynthesizer({ maxInputChars: 200, defaultVoice: "en", timeoutMs: 30_000 });
const signal = new AbortController().signal;

async function expectInvalid(promise: Promise<unknown>, param: string): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isAppError(error) && error.code).toBe("INVALID_REQUEST");
  expect(isAppError(error) && error.param).toBe(param);
}

describe("voice", () => {
  describe("SpeechSynthesizer", () => {
    it("speaks English and Spanish as 16-bit WAV that soxi can time and that is not silence", async () => {
      for (const [voice, text] of [
        ["en", "Hello, this is a test of the speech synthesizer."],
        ["es", "Hola, esto es una prueba de la síntesis de voz."],
      ] as const) {
        const wav = await synthesizer.synthesize({ input: text, voice }, signal);
        expect(wav.toString("ascii", 0, 4)).toBe("RIFF");
        expect(wav.readUInt32LE(4)).toBe(wav.length - 8);
        const info = inspectWav(wav);
        expect(info.rate).toBe(22050);
        expect(info.seconds).toBeGreaterThan(0.5);
        expect(info.rms).toBeGreaterThan(0.01);
      }
    });

    it("makes longer audio for a longer text and shorter audio at a higher speed", async () => {
      const short = inspectWav(await synthesizer.synthesize({ input: "One sentence." }, signal));
      const long = inspectWav(
        await synthesizer.synthesize(
          { input: "One sentence. And then a second, much longer sentence follows it." },
          signal,
        ),
      );
      expect(long.seconds).toBeGreaterThan(short.seconds * 1.5);
      const text = "The quick brown fox jumps over the lazy dog.";
      const normal = inspectWav(await synthesizer.synthesize({ input: text }, signal));
      const fast = inspectWav(await synthesizer.synthesize({ input: text, speed: 2 }, signal));
      expect(fast.seconds).toBeLessThan(normal.seconds * 0.75);
    });

    it("maps OpenAI voice names to English and refuses unknown voices, listing the accepted ones", () => {
      expect(synthesizer.resolveVoice("alloy")).toBe("en");
      expect(synthesizer.resolveVoice("ES")).toBe("es");
      expect(() => synthesizer.resolveVoice("klingon")).toThrow(/accepted: es, en, alloy/);
    });

    it("refuses empty, too long, unknown format and out-of-range speed with the field named", async () => {
      await expectInvalid(synthesizer.synthesize({ input: "  " }, signal), "input");
      await expectInvalid(synthesizer.synthesize({ input: "x".repeat(201) }, signal), "input");
      await expectInvalid(synthesizer.synthesize({ input: "hi", voice: "zz" }, signal), "voice");
      await expectInvalid(synthesizer.synthesize({ input: "hi", format: "mp3" }, signal), "response_format");
      await expectInvalid(synthesizer.synthesize({ input: "hi", speed: 9 }, signal), "speed");
    });

    it("reads text that looks like an option as text, not as an espeak-ng flag", async () => {
      const wav = await synthesizer.synthesize({ input: "--help me please" }, signal);
      expect(inspectWav(wav).seconds).toBeGreaterThan(0.5);
    });

    it("says clearly when espeak-ng is missing", async () => {
      const missing = new SpeechSynthesizer({
        command: "espeak-ng-not-installed",
        maxInputChars: 100,
        defaultVoice: "es",
        timeoutMs: 5_000,
      });
      await expect(missing.synthesize({ input: "hola" }, signal)).rejects.toThrow(/not installed/);
    });
  });

  describe("fixWavSizes", () => {
    it("rewrites the streaming placeholder sizes from the bytes received", () => {
      const header = Buffer.alloc(44);
      header.write("RIFF", 0, "ascii");
      header.writeUInt32LE(0x7ffff000, 4);
      header.write("WAVEfmt ", 8, "ascii");
      header.writeUInt32LE(16, 16);
      header.write("data", 36, "ascii");
      header.writeUInt32LE(0x7ffff000, 40);
      const fixed = fixWavSizes(Buffer.concat([header, Buffer.alloc(100)]));
      expect(fixed.readUInt32LE(4)).toBe(136);
      expect(fixed.readUInt32LE(40)).toBe(100);
    });
  });
});
