/** The part of a stream the progress bar needs; `process.stderr` is one. */
export interface ProgressStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  /** Terminal width in characters, when the stream is a TTY. */
  readonly columns?: number;
}

/** One progress report: the same shape as the model pull's. */
export interface ProgressState {
  readonly downloadedBytes: number;
  /** 0 when unknown: then no percent, bar or ETA is shown. */
  readonly totalBytes: number;
}

/** Where and how often a {@link ProgressBar} draws. */
export interface ProgressBarOptions {
  readonly stream: ProgressStream;
  /** Default `downloading`. */
  readonly label?: string;
  /** Redraw one line in place with `\r`. Default: whether the stream is a TTY. */
  readonly interactive?: boolean;
  /** Least time between redraws in interactive mode, in milliseconds. Default 100. */
  readonly redrawIntervalMs?: number;
  /** Least time between plain lines when not interactive (logs, pipes), in milliseconds. Default 5000. */
  readonly lineIntervalMs?: number;
  /** The clock, in milliseconds. Default `performance.now`. */
  readonly now?: () => number;
}

/** Everything {@link formatProgressLine} shows. */
export interface ProgressLine extends ProgressState {
  readonly label: string;
  /** Bytes per second; `undefined` while not yet measurable. */
  readonly bytesPerSecond: number | undefined;
  /** Characters for the bar itself; 0 for no bar. */
  readonly barWidth: number;
}

const mebibyte = 1024 * 1024;
/** The window the speed is averaged over, in milliseconds. */
const speedWindowMs = 5_000;
/** Less than this much history gives no speed, in milliseconds. */
const minSpeedSpanMs = 200;

/**
 * A dependency-free download progress bar: percent, MiB done and total, speed and ETA. On a TTY it redraws one
 * line in place; elsewhere it prints a plain line every few seconds. `done()` ends the current bar (idempotent);
 * a later `update()` starts a new one.
 */
export class ProgressBar {
  readonly #stream: ProgressStream;
  readonly #label: string;
  readonly #interactive: boolean;
  readonly #redrawIntervalMs: number;
  readonly #lineIntervalMs: number;
  readonly #now: () => number;
  #samples: { time: number; bytes: number }[] = [];
  #last: ProgressState | undefined;
  #lastDrawTime = Number.NEGATIVE_INFINITY;
  #lastDrawnState: ProgressState | undefined;

  constructor(options: ProgressBarOptions) {
    this.#stream = options.stream;
    this.#label = options.label ?? "downloading";
    this.#interactive = options.interactive ?? options.stream.isTTY === true;
    this.#redrawIntervalMs = options.redrawIntervalMs ?? 100;
    this.#lineIntervalMs = options.lineIntervalMs ?? 5_000;
    this.#now = options.now ?? (() => performance.now());
  }

  update(state: ProgressState): void {
    const time = this.#now();
    const previous = this.#samples.at(-1);
    // Fewer bytes than before means a new download: its speed starts from scratch.
    if (previous !== undefined && state.downloadedBytes < previous.bytes) this.#samples = [];
    this.#samples.push({ time, bytes: state.downloadedBytes });
    while (this.#samples.length > 2 && time - (this.#samples[1]?.time ?? time) >= speedWindowMs)
      this.#samples.shift();
    this.#last = state;

    const interval = this.#interactive ? this.#redrawIntervalMs : this.#lineIntervalMs;
    if (time - this.#lastDrawTime >= interval) this.#draw(time);
  }

  /** Draws the final state and ends the line. Does nothing when nothing was reported since the last call. */
  done(): void {
    if (this.#last === undefined) return;
    if (this.#interactive) {
      this.#draw(this.#now());
      this.#stream.write("\n");
    } else if (this.#lastDrawnState !== this.#last) {
      this.#draw(this.#now());
    }
    this.#samples = [];
    this.#last = undefined;
    this.#lastDrawnState = undefined;
    this.#lastDrawTime = Number.NEGATIVE_INFINITY;
  }

  /** Bytes per second over the last few seconds, or `undefined` before there is enough history. */
  get bytesPerSecond(): number | undefined {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (first === undefined || last === undefined || last.time - first.time < minSpeedSpanMs)
      return undefined;
    return ((last.bytes - first.bytes) * 1000) / (last.time - first.time);
  }

  #draw(time: number): void {
    const state = this.#last;
    if (state === undefined) return;
    this.#lastDrawTime = time;
    this.#lastDrawnState = state;
    const line = { ...state, label: this.#label, bytesPerSecond: this.bytesPerSecond };
    if (!this.#interactive) {
      this.#stream.write(`${formatProgressLine({ ...line, barWidth: 0 })}\n`);
      return;
    }
    const columns = this.#stream.columns ?? 80;
    const withoutBar = formatProgressLine({ ...line, barWidth: 0 }).length;
    // The bar takes what is left of the line (less its brackets and a space), within 10 to 40 characters.
    const barWidth = state.totalBytes > 0 ? Math.max(10, Math.min(40, columns - withoutBar - 4)) : 0;
    // \x1b[K clears what a longer previous line left behind.
    this.#stream.write(`\r${formatProgressLine({ ...line, barWidth })}\x1b[K`);
  }
}

/** Creates a {@link ProgressBar}. */
export function createProgressBar(options: ProgressBarOptions): ProgressBar {
  return new ProgressBar(options);
}

/**
 * Formats one progress line, e.g. `downloading [#####-----]  45%  512.0/1136.2 MiB  12.3 MiB/s  ETA 0:51`.
 * Without a known total it shows only the bytes and the speed.
 */
export function formatProgressLine(line: ProgressLine): string {
  const parts = [line.label];
  const speed = line.bytesPerSecond;
  const done = formatMebibytes(line.downloadedBytes);
  if (line.totalBytes > 0) {
    const fraction = Math.min(1, Math.max(0, line.downloadedBytes / line.totalBytes));
    if (line.barWidth > 0) {
      const filled = Math.floor(fraction * line.barWidth);
      parts.push(`[${"#".repeat(filled)}${"-".repeat(line.barWidth - filled)}]`);
    }
    parts.push(`${String(Math.floor(fraction * 100)).padStart(3)}%`);
    parts.push(`${done}/${formatMebibytes(line.totalBytes)} MiB`);
    parts.push(speed === undefined ? "-- MiB/s" : `${formatMebibytes(speed)} MiB/s`);
    const remaining = Math.max(0, line.totalBytes - line.downloadedBytes);
    const eta =
      remaining === 0 ? 0 : speed === undefined || speed <= 0 ? undefined : Math.ceil(remaining / speed);
    parts.push(`ETA ${formatDuration(eta)}`);
  } else {
    parts.push(`${done} MiB`);
    parts.push(speed === undefined ? "-- MiB/s" : `${formatMebibytes(speed)} MiB/s`);
  }
  return parts.join("  ");
}

/** Formats seconds as `m:ss`, or `h:mm:ss` from an hour on; `--:--` when unknown. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "--:--";
  const whole = Math.round(seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const secs = String(whole % 60).padStart(2, "0");
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, "0")}:${secs}` : `${minutes}:${secs}`;
}

function formatMebibytes(bytes: number): string {
  return (bytes / mebibyte).toFixed(1);
}
