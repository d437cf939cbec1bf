import { z } from "zod";
import type { ActionDefinition } from "../scheduler.js";
import type { LoopPorts, LoopSettings } from "../ports.js";

export const idleCheckArgs = z
  .object({
    /** Overrides `proactive.idleMinutes` for this run. */
    idleMinutes: z.number().positive().max(10_080).optional(),
  })
  .strict();

export type IdleCheckArgs = z.infer<typeof idleCheckArgs>;

/** The `user_idle` event's payload. */
export interface UserIdleEvent {
  userId: string;
  /** The user's last turn: the suggestion is refused if a newer one lands before delivery. */
  lastActiveAt: number;
}

/** Users seen in the last day are considered; someone gone longer is away, not idle. */
const lookbackMs = 24 * 3_600_000;

/**
 * `idle_check` (every minute): emits `user_idle` for each user whose last turn is at least the idle time ago
 * (exactly the idle time counts as idle), who was active in the last 24 hours and got no suggestion since that
 * turn. The event is keyed by user and turn time, so one idle spell gives one event however many loop
 * processes check it.
 */
export function createIdleCheck(ports: LoopPorts, settings: LoopSettings): ActionDefinition<IdleCheckArgs> {
  return {
    name: "idle_check",
    description: "Finds users idle longer than the idle time and emits user_idle for each",
    args: idleCheckArgs,
    run(context) {
      const now = context.now();
      const idleMs =
        context.args.idleMinutes === undefined ? settings.idleMs : context.args.idleMinutes * 60_000;
      const users = ports.store.idleUsers(now - idleMs, now - lookbackMs);
      for (const user of users) {
        const event: UserIdleEvent = { userId: user.userId, lastActiveAt: user.lastActiveAt };
        context.emit("user_idle", event, { dedupeKey: `${user.userId}:${user.lastActiveAt}` });
      }
      return Promise.resolve({ idleUsers: users.length, users: users.map((u) => u.userId) });
    },
  };
}
