import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export interface WavInfo {
  /** soxi -r */
  rate: number;
  /** soxi -D, in seconds */
  seconds: number;
  /** `sox <f> -n stat`'s RMS amplitude (0–1): near 0 is silence. */
  rms: number;
}

/** Reads a WAV's sample rate, duration and loudness with the real sox tools. */
export function inspectWav(wav: Buffer): WavInfo {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sarai-wav-"));
  try {
    const file = path.join(dir, "audio.wav");
    writeFileSync(file, wav);
    const soxi = (flag: string) => {
      const result = spawnSync("soxi", [flag, file], { encoding: "utf8" });
      if (result.status !== 0) throw new Error(`soxi ${flag} failed: ${result.stderr}`);
      return Number(result.stdout.trim());
    };
    // `sox … -n stat` writes its report on stderr.
    const stat = spawnSync("sox", [file, "-n", "stat"], { encoding: "utf8" });
    if (stat.status !== 0) throw new Error(`sox stat failed: ${stat.stderr}`);
    const rms = Number(/RMS\s+amplitude:\s+([\d.]+)/.exec(stat.stderr)?.[1]);
    return { rate: soxi("-r"), seconds: soxi("-D"), rms };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
