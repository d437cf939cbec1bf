import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { assembleSearch, assembleVoice } from "../app.js";
import type { LoadedConfig } from "../config/index.js";
import { passThroughGuard } from "../search/index.js";
import { UsageError } from "./usage-error.js";

/** Players tried in order when `sarai say` has a terminal and no `-o`. */
const players: [string, string[]][] = [
  ["aplay", ["-q"]],
  ["paplay", []],
  ["play", ["-q"]],
];

/** `sarai say` (espeak-ng) and `sarai search` (SearXNG): neither loads a model. */
export function registerVoiceSearchCommands(program: Command, loadConfigured: () => LoadedConfig): void {
  program
    .command("say")
    .description("speak a text with espeak-ng: writes a WAV file, or plays it in a terminal")
    .argument("<text>", "what to say; - reads stdin")
    .option("-o, --out <file>", "write the WAV here")
    .option("--voice <voice>", "es or en (default voice.defaultVoice)")
    .option("--speed <x>", "0.25-4, 1 is espeak-ng's normal rate", parseFloat)
    .action(async (text: string, flags: { out?: string; voice?: string; speed?: number }) => {
      const { config } = loadConfigured();
      const voice = assembleVoice(config);
      if (voice === undefined) throw new UsageError("voice is turned off (voice.enabled: false)");
      const input = text === "-" ? await readStdin() : text;
      if (flags.speed !== undefined && Number.isNaN(flags.speed))
        throw new UsageError("--speed: not a number");
      const wav = await voice.speech.synthesize(
        {
          input,
          ...(flags.voice === undefined ? {} : { voice: flags.voice }),
          ...(flags.speed === undefined ? {} : { speed: flags.speed }),
        },
        new AbortController().signal,
      );
      if (flags.out !== undefined) {
        await writeFile(flags.out, wav);
        process.stdout.write(`${flags.out}\n`);
        return;
      }
      const file = path.join(await mkdtemp(path.join(os.tmpdir(), "sarai-say-")), "speech.wav");
      await writeFile(file, wav);
      const player = process.stdout.isTTY ? findPlayer() : undefined;
      if (player === undefined) {
        process.stdout.write(`${file}\n`);
        return;
      }
      await new Promise<void>((resolve) => {
        const child = spawn(player[0], [...player[1], file], { stdio: "ignore" });
        child.on("error", () => resolve());
        child.on("close", () => resolve());
      });
    });

  program
    .command("search")
    .description("search the web through SearXNG: results, read pages, cache hit flag")
    .argument("<query>", "what to search for")
    .option("--json", "print the whole result as JSON")
    .action(async (query: string, flags: { json?: boolean }) => {
      if (query.trim() === "") throw new UsageError("the query is empty");
      const { config } = loadConfigured();
      // The CLI prints results to the person who asked; the guard screens what reaches a model (ask --search).
      const search = assembleSearch(config, passThroughGuard);
      if (search === undefined)
        throw new UsageError(
          "web search is off: set search.enabled: true and search.baseUrl (a SearXNG instance)",
        );
      try {
        const result = await search.search(query.trim(), new AbortController().signal);
        if (flags.json === true) {
          process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
          return;
        }
        if (result.sources.length === 0) process.stdout.write("no results\n");
        for (const source of result.sources) {
          process.stdout.write(`[${source.n}] ${source.title} — ${source.url}\n`);
          const body = source.text ?? source.snippet;
          if (body !== "") process.stdout.write(`    ${body.slice(0, 300).replace(/\n/g, " ")}\n`);
          if (source.skipped !== undefined) process.stdout.write(`    (page not read: ${source.skipped})\n`);
        }
        if (result.cached) process.stderr.write("sarai: (from the search cache)\n");
      } finally {
        search.dispose();
      }
    });
}

function findPlayer(): [string, string[]] | undefined {
  return players.find(([name]) => spawnSync("which", [name], { stdio: "ignore" }).status === 0);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
