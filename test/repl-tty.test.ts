import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { stripVTControlCharacters } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ensureTestModel, slowModelOptions } from "./models.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cli = path.join(root, "src", "cli", "main.ts");
// Children run in temp folders, where `--import tsx` would not resolve.
const tsx = pathToFileURL(path.join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;

const userPrompt = "you> ";
const answerPrompt = "sarai> ";
const ctrlC = "\x03";
const ctrlD = "\x04";
const cursorLeft = "\x1b[D";
// A CLI start takes 2–5 s on a loaded two-core machine, and the first answer also loads the model.
const waitTimeoutMs = 30_000;

let dataDir: string;
let tinyModel: string;
let slowModel: string;
let session: TerminalSession | undefined;

/**
 * `sarai chat` in a real pseudo-terminal made by util-linux `script`, so stdin is a TTY and readline runs
 * in terminal mode: keystrokes go through the line discipline and readline's raw-mode key handling.
 */
class TerminalSession {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #observers: ((screen: string) => void)[] = [];
  #output = "";
  #exitCode: number | null | undefined;
  #spawnError: Error | undefined;
  /** The exit code `script -e` passes on from the CLI. */
  readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    const command = [process.execPath, "--import", tsx, cli, ...args].map(quoteForShell).join(" ");
    // A real terminal has a size; without one readline would treat the line as infinitely wide.
    const shellCommand = `stty cols 120 rows 40 && exec ${command}`;
    // -q: no "Script started" banner, -f: flush every write, -e: exit with the CLI's code, -c: run this.
    this.#child = spawn("script", ["-qfec", shellCommand, "/dev/null"], {
      cwd: dataDir,
      env: {
        PATH: process.env["PATH"] ?? "",
        HOME: dataDir,
        SHELL: "/bin/sh",
        TERM: "xterm-256color",
        SARAI_PATHS_DATA_DIR: dataDir,
        // RFC 2606: .invalid never resolves, so "offline" is the same on every machine.
        SARAI_MODELS_HUGGING_FACE_ENDPOINT: "https://sarai-offline.invalid/",
      },
    });
    this.#child.stdout.on("data", (chunk: Buffer) => {
      this.#output += chunk.toString("utf8");
      const screen = this.screen;
      for (const observe of this.#observers) observe(screen);
    });
    this.#child.stderr.on("data", (chunk: Buffer) => (this.#output += chunk.toString("utf8")));
    this.exited = new Promise((resolve, reject) => {
      this.#child.on("error", (error) => {
        this.#spawnError = error;
        reject(error);
      });
      this.#child.on("exit", (code) => {
        this.#exitCode = code;
        resolve(code);
      });
    });
    // `waitFor` reports a failed spawn (no `script` on this machine); the rejection itself is not news.
    this.exited.catch(() => {});
  }

  /** Everything the terminal has shown so far, without escape sequences or carriage returns. */
  get screen(): string {
    return stripVTControlCharacters(this.#output).replaceAll("\r", "");
  }

  /** Calls `observer` with the screen after every chunk of output, to catch states that pass quickly. */
  observe(observer: (screen: string) => void): void {
    this.#observers.push(observer);
  }

  /** Types keys into the terminal, as if on a keyboard. */
  type(keys: string): void {
    this.#child.stdin.write(keys);
  }

  /** Polls until the screen satisfies `condition`; fails early if the CLI exits first. */
  async waitFor(condition: (screen: string) => boolean, what: string): Promise<void> {
    const deadline = Date.now() + waitTimeoutMs;
    while (!condition(this.screen)) {
      if (this.#spawnError !== undefined) {
        throw new Error(`cannot run script(1): ${this.#spawnError.message}`);
      }
      if (this.#exitCode !== undefined) {
        throw new Error(`the CLI exited (${this.#exitCode}) before ${what}; screen:\n${this.screen}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`no ${what} within ${waitTimeoutMs} ms; screen ends:\n${this.screen.slice(-800)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Resolves with the exit code, or fails if the CLI is still running after the wait timeout. */
  async waitForExit(): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the CLI did not exit; screen ends:\n${this.screen.slice(-800)}`)),
        waitTimeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends the session if a test left it running: `script` passes SIGTERM on to the CLI. */
  async dispose(): Promise<void> {
    if (this.#exitCode !== undefined || this.#child.pid === undefined) return;
    this.#child.kill("SIGTERM");
    const killTimer = setTimeout(() => this.#child.kill("SIGKILL"), 5_000);
    await this.exited.catch(() => {});
    clearTimeout(killTimer);
  }
}

function quoteForShell(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

function countOf(text: string, part: string): number {
  return text.split(part).length - 1;
}

/** The text after the last `sarai>`, up to the next `you>` if the answer has ended; undefined before any. */
function lastAnswer(screen: string): string | undefined {
  const start = screen.lastIndexOf(answerPrompt);
  if (start === -1) return undefined;
  return screen.slice(start + answerPrompt.length).split(userPrompt)[0];
}

/** True when the screen ends at a fresh `you>` prompt, the REPL waiting for a line. */
function isAtPrompt(screen: string): boolean {
  return screen.endsWith(userPrompt);
}

function startChat(model: string, ...flags: string[]): TerminalSession {
  session = new TerminalSession(["chat", "--model", model, "--temperature", "0", ...flags]);
  return session;
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "sarai-tty-"));
  tinyModel = await ensureTestModel();
  slowModel = await ensureTestModel(slowModelOptions);
});

afterEach(async () => {
  await session?.dispose();
  session = undefined;
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe.skipIf(process.platform !== "linux")("repl in a terminal", () => {
  describe("answers", () => {
    it("prompts with you> and streams the answer to a typed line after sarai>", async () => {
      const chat = startChat(slowModel, "--max-tokens", "200");
      // The lengths the answer had on screen, one per chunk of output, the final one included: a loaded machine
      // may deliver the end of the answer together with the next prompt.
      const answerLengths = new Set<number>();
      chat.observe((screen) => {
        const answer = lastAnswer(screen)?.trim() ?? "";
        if (answer !== "") answerLengths.add(answer.length);
      });
      await chat.waitFor(isAtPrompt, "first prompt");
      expect(chat.screen).toContain("/reset forgets the conversation");

      chat.type("hola\r");
      await chat.waitFor(
        (screen) => countOf(screen, userPrompt) === 2 && isAtPrompt(screen),
        "second prompt",
      );
      expect(chat.screen).toMatch(/\nyou> hola\nsarai> \S/);
      expect(lastAnswer(chat.screen)?.trim()).not.toBe("");
      // The answer grew on screen over several chunks: it was streamed, not printed at once.
      expect(answerLengths.size).toBeGreaterThanOrEqual(2);
    });

    it("stops a streaming answer on Ctrl-C, prompts again and answers the next line", async () => {
      const chat = startChat(slowModel, "--max-tokens", "4000");
      await chat.waitFor(isAtPrompt, "first prompt");
      chat.type("hola\r");
      await chat.waitFor((screen) => (lastAnswer(screen)?.trim().length ?? 0) >= 20, "streaming answer");

      chat.type(ctrlC);
      await chat.waitFor((screen) => /\(answer stopped\)\n+you> $/.test(screen), "prompt after the stop");
      expect(countOf(chat.screen, "(answer stopped)")).toBe(1);

      chat.type("otra\r");
      await chat.waitFor(
        (screen) => countOf(screen, answerPrompt) === 2 && (lastAnswer(screen)?.trim().length ?? 0) >= 5,
        "second answer",
      );
      // Nothing of the stopped answer came after its stop: the prompt and the new line follow directly.
      expect(chat.screen).toMatch(/\(answer stopped\)\n+you> otra\nsarai> \S/);

      chat.type(ctrlC);
      await chat.waitFor((screen) => countOf(screen, "(answer stopped)") === 2, "second stop");
      await chat.waitFor(isAtPrompt, "prompt after the second stop");
      chat.type(ctrlD);
      expect(await chat.waitForExit()).toBe(0);
    });
  });

  describe("commands", () => {
    it("clears the conversation on /reset, prompts again, and leaves with exit code 0 on /exit", async () => {
      const chat = startChat(tinyModel, "--max-tokens", "16");
      await chat.waitFor(isAtPrompt, "first prompt");
      chat.type("/reset\r");
      await chat.waitFor(
        (screen) => /\nyou> \/reset\n\(conversation cleared\)\nyou> $/.test(screen),
        "prompt after (conversation cleared)",
      );

      chat.type("/exit\r");
      expect(await chat.waitForExit()).toBe(0);
      // Neither command went to the model as a message.
      expect(chat.screen).not.toContain(answerPrompt);
      expect(chat.screen).not.toMatch(/error/i);
    });
  });

  describe("keys", () => {
    it("leaves with exit code 0 on Ctrl-C at an empty prompt", async () => {
      const chat = startChat(tinyModel);
      await chat.waitFor(isAtPrompt, "first prompt");
      chat.type(ctrlC);
      expect(await chat.waitForExit()).toBe(0);
      expect(chat.screen).not.toMatch(/error/i);
    });

    it("leaves with exit code 0 on Ctrl-D", async () => {
      const chat = startChat(tinyModel);
      await chat.waitFor(isAtPrompt, "first prompt");
      chat.type(ctrlD);
      expect(await chat.waitForExit()).toBe(0);
      expect(chat.screen).not.toMatch(/error/i);
    });

    it("discards the whole typed line on Ctrl-C, even with the cursor in the middle of it", async () => {
      const chat = startChat(tinyModel, "--max-tokens", "16");
      await chat.waitFor(isAtPrompt, "first prompt");
      chat.type("abcdef");
      await chat.waitFor((screen) => screen.endsWith("you> abcdef"), "typed line");
      // If Ctrl-C kept the text right of the cursor, this would send "/resetdef" to the model.
      chat.type(`${cursorLeft.repeat(3)}${ctrlC}/reset\r`);
      await chat.waitFor(
        (screen) => screen.includes("(conversation cleared)") || screen.includes(answerPrompt),
        "reply to the line",
      );
      expect(chat.screen).toContain("(conversation cleared)");
      expect(chat.screen).not.toContain(answerPrompt);
      await chat.waitFor(isAtPrompt, "prompt after /reset");
      chat.type(ctrlD);
      expect(await chat.waitForExit()).toBe(0);
    });
  });
});
