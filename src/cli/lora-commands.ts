import http from "node:http";
import https from "node:https";
import type { Command } from "commander";
import type { LoraAdapterWire, LoraStatusWire, TrainingReportWire } from "../api/index.js";
import type { LoadedConfig, ResolvedConfig } from "../config/index.js";
import { pickLoopApiKey } from "../proactive/index.js";
import { AppError, errorCatalogue, type ErrorCode } from "../shared/index.js";
import { printTable } from "./print-table.js";

/** Status, list, promote and rollback answer within this; a training run has no limit (it takes minutes). */
const requestTimeoutMs = 60_000;

interface ServerRequest {
  method: "GET" | "POST";
  path: string;
  body?: unknown;
  /** Gives up when the connection is idle this long, in ms; none when absent. */
  timeoutMs?: number;
}

/**
 * One JSON request to the running server with the loop's admin key (an unbound one when there is). Over node:http
 * rather than fetch, whose 5-minute wait for the response headers a training run outlasts. The server's own error
 * code is kept (`sarai: error [ADAPTER_NOT_FOUND]: …`); no server answering says how to start one.
 */
async function askServer(config: ResolvedConfig, url: string | undefined, request: ServerRequest) {
  const base = url ?? config.proactive.serverUrl;
  const apiKey = pickLoopApiKey(config.server.apiKeys)?.key;
  const target = new URL(request.path, base);
  const payload = request.body === undefined ? undefined : JSON.stringify(request.body);
  const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const client = target.protocol === "https:" ? https : http;
    const outgoing = client.request(
      target,
      {
        method: request.method,
        headers: {
          ...(payload === undefined ? {} : { "content-type": "application/json" }),
          ...(apiKey === undefined ? {} : { authorization: `Bearer ${apiKey}` }),
        },
        ...(request.timeoutMs === undefined ? {} : { timeout: request.timeoutMs }),
        // Its own connection: the global agent's 5 s socket timeout would cut a training run short.
        agent: false,
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (text += chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
        response.on("error", reject);
      },
    );
    const limit = request.timeoutMs;
    if (limit !== undefined)
      outgoing.on("timeout", () =>
        outgoing.destroy(
          new AppError("UPSTREAM_TIMEOUT", `the server at ${base} did not answer within ${limit} ms`),
        ),
      );
    outgoing.on("error", reject);
    outgoing.end(payload);
  }).catch((error: unknown) => {
    if (error instanceof AppError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new AppError(
      "UPSTREAM_UNAVAILABLE",
      code === "ECONNREFUSED"
        ? `no SARAi server is running at ${base} (ECONNREFUSED); start it with \`sarai serve\`, or name another with --url`
        : `cannot reach the server at ${base}: ${code}`,
      { cause: error },
    );
  });
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    body = undefined;
  }
  if (answer.status >= 200 && answer.status < 300) return body;
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof error?.code === "string" ? error.code.toUpperCase() : "";
  const message = typeof error?.message === "string" ? error.message : `HTTP ${answer.status}`;
  if (Object.hasOwn(errorCatalogue, code)) throw new AppError(code as ErrorCode, message);
  throw new AppError("UPSTREAM_UNAVAILABLE", `the server at ${base} answered ${answer.status}: ${message}`);
}

const out = (line = "") => process.stdout.write(`${line}\n`);
const shortTime = (iso: string | null) => (iso ?? "").replace(/\.\d{3}Z$/, "Z");

/** `1.234 → 1.100`, from the gate's figures in the record; empty when the record has none. */
function heldOutNll(adapter: LoraAdapterWire): string {
  const before = adapter.metrics?.["heldOutNllBefore"];
  const after = adapter.metrics?.["heldOutNllAfter"];
  if (before === undefined || after === undefined) return "";
  return `${before.toFixed(3)} → ${after.toFixed(3)}`;
}

function printAdapters(adapters: readonly LoraAdapterWire[]): void {
  printTable(
    ["", "id", "created", "status", "examples", "held-out NLL"],
    adapters.map((adapter) => [
      // Never empty, so the rows line up whether or not an adapter is in use.
      adapter.active ? "*" : " ",
      adapter.id,
      shortTime(adapter.created_at),
      adapter.damaged === null ? adapter.status : `damaged: ${adapter.damaged}`,
      adapter.examples === null ? "" : String(adapter.examples),
      heldOutNll(adapter),
    ]),
  );
}

function printStatus(status: LoraStatusWire): void {
  out(`adapter in use: ${status.active ?? "none (the bare model)"}`);
  out(`before it: ${status.previous ?? "none"}`);
  const run = status.last_run;
  out(
    run === null
      ? "last run: none yet"
      : `last run: ${shortTime(run.at)} ${run.outcome}${run.adapter_id === null ? "" : ` ${run.adapter_id}`}` +
          (run.reason === null ? "" : ` (${run.reason})`),
  );
  if (status.running) out("a training run is going on");
  out(`archive: ${status.data.length} adapter${status.data.length === 1 ? "" : "s"}`);
}

function printReport(report: TrainingReportWire): void {
  if (report.outcome === "skipped") {
    out(`skipped: ${report.reason ?? "no reason given"}`);
    return;
  }
  const seconds = report.train_seconds === null ? "" : ` in ${report.train_seconds.toFixed(1)} s`;
  out(
    `trained on ${report.examples} examples (${report.held_out} held out), ${report.steps} steps${seconds}` +
      (report.stopped === null ? "" : `; stopped early: ${report.stopped}`),
  );
  for (const reason of report.verdict?.reasons ?? []) out(`  ${reason}`);
  out(
    report.outcome === "promoted"
      ? `promoted ${report.adapter_id ?? ""}: in use now (before: ${report.previous ?? "none"})`
      : `refused ${report.adapter_id ?? ""}: archived, not used; the adapter in use is unchanged`,
  );
}

/**
 * `sarai lora list|status|train|promote|rollback`: the learning loop's LoRA adapters, on the running server
 * (`proactive.serverUrl`, or `--url`) with the loop's admin key: the server holds the model the adapter is applied to.
 */
export function registerLoraCommands(program: Command, loadConfigured: () => LoadedConfig): void {
  const lora = program
    .command("lora")
    .description(
      "the LoRA adapters the learning loop trains from feedback: list, status, train, promote, rollback",
    );
  const ask = (url: string | undefined, request: ServerRequest) =>
    askServer(loadConfigured().config, url, request);
  const statusOf = async (url: string | undefined) =>
    (await ask(url, { method: "GET", path: "/v1/lora", timeoutMs: requestTimeoutMs })) as LoraStatusWire;

  lora
    .command("list")
    .description("the adapter archive, newest first; * marks the adapter in use")
    .option("--url <url>", "the server (default proactive.serverUrl)")
    .option("--json", "one adapter per line, as GET /v1/lora lists them")
    .action(async (flags: { url?: string; json?: boolean }) => {
      const status = await statusOf(flags.url);
      if (flags.json === true) for (const adapter of status.data) out(JSON.stringify(adapter));
      else if (status.data.length === 0) out("no adapters yet (`sarai lora train` makes one)");
      else printAdapters(status.data);
    });

  lora
    .command("status")
    .description("the adapter in use, the one before it and the last training run")
    .option("--url <url>", "the server (default proactive.serverUrl)")
    .option("--json", "print the server's answer as JSON")
    .action(async (flags: { url?: string; json?: boolean }) => {
      const status = await statusOf(flags.url);
      if (flags.json === true) out(JSON.stringify(status));
      else printStatus(status);
    });

  lora
    .command("train")
    .description(
      "train an adapter from feedback now, gate it and promote it if it is better (takes minutes; it goes on if this command is stopped)",
    )
    .option("--force", "train even with too little new feedback or a busy machine")
    .option("--url <url>", "the server (default proactive.serverUrl)")
    .option("--json", "print the training report as JSON")
    .action(async (flags: { force?: boolean; url?: string; json?: boolean }) => {
      // Minutes without output otherwise; not for scripts, which read stdout and the exit code.
      if (process.stderr.isTTY)
        process.stderr.write(
          "sarai: training on the server; stopping this command does not stop the run (see `sarai lora status`)\n",
        );
      const report = (await ask(flags.url, {
        method: "POST",
        path: "/v1/lora/train",
        body: { force: flags.force === true },
      })) as TrainingReportWire;
      if (flags.json === true) out(JSON.stringify(report));
      else printReport(report);
    });

  lora
    .command("promote")
    .description("put an archived adapter in use (its signature is checked first), or none: the bare model")
    .argument("<id|none>", "an adapter id from `sarai lora list`, or none")
    .option("--url <url>", "the server (default proactive.serverUrl)")
    .action(async (id: string, flags: { url?: string }) => {
      const status = (await ask(flags.url, {
        method: "POST",
        path: "/v1/lora/promote",
        body: { id: id === "none" ? null : id },
        timeoutMs: requestTimeoutMs,
      })) as LoraStatusWire;
      out(`adapter in use: ${status.active ?? "none (the bare model)"}`);
    });

  lora
    .command("rollback")
    .description("go back to the adapter in use before the current one (or to none)")
    .option("--url <url>", "the server (default proactive.serverUrl)")
    .action(async (flags: { url?: string }) => {
      const status = (await ask(flags.url, {
        method: "POST",
        path: "/v1/lora/rollback",
        timeoutMs: requestTimeoutMs,
      })) as LoraStatusWire;
      out(`adapter in use: ${status.active ?? "none (the bare model)"} (was ${status.previous ?? "none"})`);
    });
}
