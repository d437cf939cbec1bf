import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { AppError } from "../shared/index.js";
import type { LoopbackTarget } from "./loopback-http.js";
import type { LearningPort } from "./ports.js";

export interface LoopbackLearningOptions extends LoopbackTarget {
  /** Gives up on the server after this long, in ms (the run's own timeout still applies). Default: two hours. */
  timeoutMs?: number;
}

const outcomes = new Set(["promoted", "refused", "skipped"]);

/**
 * LoRA training as `sarai loop` reaches it: `POST /v1/lora/train` on the server that holds the main model (an
 * admin route: the key must not be bound to a user). The run happens there; this waits for its report. Sent with
 * `node:http`, not `fetch`: fetch gives up on a response whose headers take more than 300 s, and a run takes longer.
 */
export function createLoopbackLearning(options: LoopbackLearningOptions): LearningPort {
  const timeoutMs = options.timeoutMs ?? 2 * 3_600_000;
  return {
    async train({ force }, signal) {
      const { status, body } = await postJson(options, "/v1/lora/train", { force }, timeoutMs, signal);
      const answer = body as {
        outcome?: unknown;
        reason?: unknown;
        adapter_id?: unknown;
        error?: { message?: unknown };
      };
      if (status < 200 || status >= 300) {
        const message =
          typeof answer?.error?.message === "string" ? answer.error.message : `status ${status}`;
        throw new AppError(
          "UPSTREAM_UNAVAILABLE",
          `the server at ${options.serverUrl} answered ${status}: ${message}`,
        );
      }
      const outcome = answer?.outcome;
      if (typeof outcome !== "string" || !outcomes.has(outcome)) {
        throw new AppError(
          "OUTPUT_INVALID",
          `the server at ${options.serverUrl} answered without a training outcome`,
        );
      }
      return {
        outcome: outcome as "promoted" | "refused" | "skipped",
        ...(typeof answer.reason === "string" ? { reason: answer.reason } : {}),
        ...(typeof answer.adapter_id === "string" ? { adapterId: answer.adapter_id } : {}),
      };
    },
  };
}

function postJson(
  target: LoopbackTarget,
  route: string,
  payload: unknown,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<{ status: number; body: unknown }> {
  const url = new URL(route, target.serverUrl);
  const text = JSON.stringify(payload);
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const request = send(url, {
      method: "POST",
      // Its own connection, with no socket timeout of an agent's: the run takes as long as it takes.
      agent: false,
      headers: {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(text),
        ...(target.apiKey === undefined ? {} : { authorization: `Bearer ${target.apiKey}` }),
      },
    });
    const timer = setTimeout(() => {
      request.destroy(
        new AppError(
          "UPSTREAM_TIMEOUT",
          `the server at ${target.serverUrl} did not answer within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    const onAbort = () => request.destroy(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    };
    request.on("error", (error) => {
      done();
      if (signal.aborted) reject(signal.reason as Error);
      else if (error instanceof AppError) reject(error);
      else
        reject(
          new AppError(
            "UPSTREAM_UNAVAILABLE",
            `cannot reach the server at ${target.serverUrl}: ${error.message}`,
            {
              cause: error,
            },
          ),
        );
    });
    request.on("response", (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => {
        done();
        let parsed: unknown = null;
        try {
          parsed = JSON.parse(body);
        } catch {
          // Not JSON: the status says what happened.
        }
        resolve({ status: response.statusCode ?? 0, body: parsed });
      });
    });
    request.end(text);
  });
}
