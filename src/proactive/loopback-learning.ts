import { AppError } from "../shared/index.js";
import { requestServer, type LoopbackTarget } from "./loopback-http.js";
import type { LearningPort } from "./ports.js";

export interface LoopbackLearningOptions extends LoopbackTarget {
  /** Gives up on the server after this long, in ms (the run's own timeout still applies). Default: two hours. */
  timeoutMs?: number;
}

const outcomes = new Set(["promoted", "refused", "skipped"]);

/**
 * LoRA training as `sarai loop` reaches it: `POST /v1/lora/train` on the server that holds the main model (an
 * admin route: the key must not be bound to a user). The run happens there; this waits for its report.
 */
export function createLoopbackLearning(options: LoopbackLearningOptions): LearningPort {
  const timeoutMs = options.timeoutMs ?? 2 * 3_600_000;
  return {
    async train({ force }, signal) {
      const body = (await requestServer(
        options,
        { method: "POST", path: "/v1/lora/train", body: { force }, timeoutMs },
        signal,
      )) as { outcome?: unknown; reason?: unknown; adapter_id?: unknown } | null;
      const outcome = body?.outcome;
      if (typeof outcome !== "string" || !outcomes.has(outcome)) {
        throw new AppError(
          "OUTPUT_INVALID",
          `the server at ${options.serverUrl} answered without a training outcome`,
        );
      }
      return {
        outcome: outcome as "promoted" | "refused" | "skipped",
        ...(typeof body?.reason === "string" ? { reason: body.reason } : {}),
        ...(typeof body?.adapter_id === "string" ? { adapterId: body.adapter_id } : {}),
      };
    },
  };
}
