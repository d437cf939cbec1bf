import readline from "node:readline";
import type { Readable, Writable } from "node:stream";
import { isAppError } from "../shared/index.js";
import type { ChatMessage, LlmBackend, SamplingOptions } from "../inference/index.js";

export interface ReplOptions {
  backend: LlmBackend;
  input: Readable;
  output: Writable;
  /** Where errors and notices go. */
  errorOutput: Writable;
  system?: string | undefined;
  sampling?: SamplingOptions;
  /** Show the `you>` prompt and the help line; off when input is not a terminal. */
  interactive: boolean;
}

const help = "Type a message. /reset forgets the conversation, /exit quits; Ctrl-C stops the current answer.";

/**
 * The chat REPL: streams each answer as it is generated. Ctrl-C during an answer stops that answer only;
 * Ctrl-C at an empty prompt, Ctrl-D or `/exit` leave. Without a terminal it answers each input line in
 * turn and ends at end of input.
 */
export async function runRepl(options: ReplOptions): Promise<void> {
  const { backend, output, errorOutput, interactive } = options;
  const rl = readline.createInterface({
    input: options.input,
    output: interactive ? output : undefined,
    terminal: interactive,
    prompt: "you> ",
  });
  const history: ChatMessage[] = [];
  const resetHistory = () => {
    history.length = 0;
    if (options.system !== undefined) history.push({ role: "system", content: options.system });
  };
  resetHistory();

  let current: AbortController | undefined;
  const onInterrupt = () => {
    if (current !== undefined) {
      current.abort();
      return;
    }
    if (interactive && rl.line.length > 0) {
      // Ctrl-U deletes only left of the cursor; from the end of the line it deletes the whole line.
      rl.write(null, { ctrl: true, name: "e" });
      rl.write(null, { ctrl: true, name: "u" });
      rl.prompt();
      return;
    }
    rl.close();
  };
  // A terminal turns Ctrl-C into readline's SIGINT; without one (pipes, `kill -INT`) it is the process's.
  rl.on("SIGINT", onInterrupt);
  process.on("SIGINT", onInterrupt);

  if (interactive) {
    errorOutput.write(`${help}\n`);
    rl.prompt();
  }
  for await (const rawLine of rl) {
    const line = rawLine.trim();
    if (line === "") {
      if (interactive) rl.prompt();
      continue;
    }
    if (line === "/exit" || line === "/quit") break;
    if (line === "/reset") {
      resetHistory();
      errorOutput.write("(conversation cleared)\n");
      if (interactive) rl.prompt();
      continue;
    }
    if (line === "/help") {
      errorOutput.write(`${help}\n`);
      if (interactive) rl.prompt();
      continue;
    }

    history.push({ role: "user", content: line });
    current = new AbortController();
    let answer = "";
    try {
      if (interactive) output.write("sarai> ");
      for await (const chunk of backend.chatStream(
        { messages: history, ...(options.sampling === undefined ? {} : { sampling: options.sampling }) },
        current.signal,
      )) {
        if (chunk.type === "delta") {
          answer += chunk.text;
          output.write(chunk.text);
        }
      }
      output.write("\n");
      history.push({ role: "assistant", content: answer });
    } catch (error) {
      output.write("\n");
      if (isAppError(error) && error.code === "ABORTED") {
        errorOutput.write("(answer stopped)\n");
        // Keep what was said so far, so the conversation stays coherent.
        if (answer !== "") history.push({ role: "assistant", content: answer });
        else history.pop();
      } else {
        history.pop();
        const message = isAppError(error)
          ? `error [${error.code}]: ${error.message}`
          : `error: ${String(error)}`;
        errorOutput.write(`${message}\n`);
      }
    } finally {
      current = undefined;
    }
    if (interactive) rl.prompt();
  }
  rl.close();
  process.off("SIGINT", onInterrupt);
}
