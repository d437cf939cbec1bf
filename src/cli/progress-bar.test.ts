import { PassThrough } from "node:stream";

import { describe, expect, it } from "vitest";

import { createProgressBar, formatDuration, formatProgressLine } from "./progress-bar.js";

const mib = 1024 * 1024;

/** A real stream that records what was written, posing as a TTY or not. */
function createRecordingStream(isTTY: boolean, columns = 100) {
  const stream = Object.assign(new PassThrough(), { isTTY, columns });
  let output = "";
  stream.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  return { stream, read: () => output };
}

function createClock() {
  let time = 0;
  return { now: () => time, advance: (ms: number) => void (time += ms) };
}

describe("progress-bar", () => {
  describe("formatProgressLine", () => {
    it("shows bar, percent, MiB done and total, speed and ETA", () => {
      const line = formatProgressLine({
        label: "downloading",
        downloadedBytes: 256 * mib,
        totalBytes: 1024 * mib,
        bytesPerSecond: 16 * mib,
        barWidth: 20,
      });
      expect(line).toBe("downloading  [#####---------------]   25%  256.0/1024.0 MiB  16.0 MiB/s  ETA 0:48");
    });

    it("shows only bytes and speed while the total is unknown", () => {
      const line = formatProgressLine({
        label: "x",
        downloadedBytes: 1.5 * mib,
        totalBytes: 0,
        bytesPerSecond: undefined,
        barWidth: 20,
      });
      expect(line).toBe("x  1.5 MiB  -- MiB/s");
    });

    it("shows an unknown ETA without speed and 0:00 once complete", () => {
      const base = { label: "d", totalBytes: 10 * mib, barWidth: 0 };
      expect(formatProgressLine({ ...base, downloadedBytes: mib, bytesPerSecond: undefined })).toContain(
        "-- MiB/s  ETA --:--",
      );
      expect(formatProgressLine({ ...base, downloadedBytes: 10 * mib, bytesPerSecond: undefined })).toBe(
        "d  100%  10.0/10.0 MiB  -- MiB/s  ETA 0:00",
      );
    });
  });

  describe("formatDuration", () => {
    it("formats minutes and hours", () => {
      expect(formatDuration(0)).toBe("0:00");
      expect(formatDuration(59.4)).toBe("0:59");
      expect(formatDuration(61)).toBe("1:01");
      expect(formatDuration(3 * 3600 + 5 * 60 + 7)).toBe("3:05:07");
      expect(formatDuration(undefined)).toBe("--:--");
      expect(formatDuration(Number.POSITIVE_INFINITY)).toBe("--:--");
    });
  });

  describe("ProgressBar", () => {
    it("redraws one line in place on a TTY, throttled, and ends it with a newline", () => {
      const { stream, read } = createRecordingStream(true, 100);
      const clock = createClock();
      const bar = createProgressBar({ stream, now: clock.now, redrawIntervalMs: 100 });

      bar.update({ downloadedBytes: 0, totalBytes: 100 * mib });
      clock.advance(50);
      bar.update({ downloadedBytes: 1 * mib, totalBytes: 100 * mib }); // within 100 ms: not drawn
      clock.advance(950);
      bar.update({ downloadedBytes: 10 * mib, totalBytes: 100 * mib });
      bar.done();

      const output = read();
      const frames = output.split("\r").filter((frame) => frame !== "");
      expect(frames).toHaveLength(3); // first update, the one after 1 s, and done()
      expect(frames[0]).toContain("  0%  0.0/100.0 MiB  -- MiB/s  ETA --:--");
      // 10 MiB in 1 s: 10 MiB/s, and 90 MiB left take 9 s.
      expect(frames[1]).toContain(" 10%  10.0/100.0 MiB  10.0 MiB/s  ETA 0:09");
      expect(frames[1]).toMatch(/\[#+-+\]/);
      expect(frames.every((frame) => frame.includes("\x1b[K"))).toBe(true);
      expect(output.endsWith("\n")).toBe(true);
      expect(output.split("\n")).toHaveLength(2);
    });

    it("prints plain lines at an interval when not a TTY, and the final state on done()", () => {
      const { stream, read } = createRecordingStream(false);
      const clock = createClock();
      const bar = createProgressBar({ stream, now: clock.now, lineIntervalMs: 5_000, label: "pull" });

      for (let second = 0; second <= 12; second++) {
        bar.update({ downloadedBytes: second * 2 * mib, totalBytes: 24 * mib });
        clock.advance(1_000);
      }
      bar.done();
      bar.done();

      const lines = read()
        .split("\n")
        .filter((line) => line !== "");
      expect(read()).not.toContain("\r");
      expect(lines.map((line) => /(\d+)%/.exec(line)?.[0])).toEqual(["0%", "41%", "83%", "100%"]);
      expect(lines[1]).toBe("pull   41%  10.0/24.0 MiB  2.0 MiB/s  ETA 0:07");
      expect(lines[3]).toContain("24.0/24.0 MiB  2.0 MiB/s  ETA 0:00");
    });

    it("measures the speed from the first report, so a resumed download is not counted as fast", () => {
      const { stream } = createRecordingStream(false);
      const clock = createClock();
      const bar = createProgressBar({ stream, now: clock.now });
      bar.update({ downloadedBytes: 500 * mib, totalBytes: 1000 * mib });
      clock.advance(2_000);
      bar.update({ downloadedBytes: 504 * mib, totalBytes: 1000 * mib });
      expect(bar.bytesPerSecond).toBe(2 * mib);
    });

    it("averages the speed over the last few seconds", () => {
      const { stream } = createRecordingStream(false);
      const clock = createClock();
      const bar = createProgressBar({ stream, now: clock.now });
      let bytes = 0;
      for (let second = 0; second < 20; second++) {
        bytes += second < 10 ? 10 * mib : mib;
        bar.update({ downloadedBytes: bytes, totalBytes: 0 });
        clock.advance(1_000);
      }
      expect(bar.bytesPerSecond).toBe(mib);
    });

    it("writes nothing when done() comes before any update, and starts a new bar after done()", () => {
      const { stream, read } = createRecordingStream(true);
      const clock = createClock();
      const bar = createProgressBar({ stream, now: clock.now });
      bar.done();
      expect(read()).toBe("");

      bar.update({ downloadedBytes: mib, totalBytes: 2 * mib });
      bar.done();
      bar.update({ downloadedBytes: 0, totalBytes: 4 * mib });
      bar.done();
      const lines = read()
        .split("\n")
        .filter((line) => line !== "");
      expect(lines).toHaveLength(2);
      expect(lines[1]).toContain("0.0/4.0 MiB");
    });
  });
});
