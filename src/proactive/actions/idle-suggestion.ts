import { z } from "zod";
import { maxUserIdLength } from "../../memory/index.js";
import type { ActionDefinition } from "../scheduler.js";
import type { LoopPorts, LoopSettings } from "../ports.js";
import { actionableFacts } from "./actionable-facts.js";

export const idleSuggestionArgs = z
  .object({
    /** Overrides `proactive.suggestionsPerHour` for this run. */
    maxPerHour: z.number().int().min(0).max(60).optional(),
    /** The user, for a manual run (an event-triggered run takes it from `user_idle`). */
    userId: z.string().min(1).max(maxUserIdLength).optional(),
  })
  .strict();

export type IdleSuggestionArgs = z.infer<typeof idleSuggestionArgs>;

const userIdlePayload = z.object({ userId: z.string().min(1), lastActiveAt: z.number() });

/** Longest suggestion delivered, in characters; longer ones are cut at a word and end with "…". */
export const maxSuggestionChars = 280;
/** Facts read per user when looking for actionable ones. */
const factsScanned = 500;
/** Facts given to the model: the soonest ones. */
const factsInPrompt = 5;

/** A suggestion as the model wrote it → one clean line for the feed; empty when nothing usable is left. */
export function cleanSuggestion(text: string): string {
  let clean = text
    .replace(/\s+/g, " ")
    .trim()
    .replace(/^(?:suggestion|sugerencia|assistant|asistente)\s*:\s*/i, "")
    .trim();
  const quoted = /^(["'“«])(.*)(["'”»])$/.exec(clean);
  if (quoted !== null) clean = (quoted[2] ?? "").trim();
  if (clean.length <= maxSuggestionChars) return clean;
  const cut = clean.slice(0, maxSuggestionChars - 1);
  const lastSpace = cut.lastIndexOf(" ");
  return `${(lastSpace > maxSuggestionChars / 2 ? cut.slice(0, lastSpace) : cut).replace(/[\s,;:.]+$/, "")}…`;
}

/**
 * `idle_suggestion` (on `user_idle`): for a user who is still idle, picks the actionable facts (see
 * `actionableFacts`), asks the model for one short suggestion about them and delivers it to the notifications
 * feed. Nothing is delivered when there is nothing actionable, the model writes nothing, the user took a turn
 * after the idle event (checked again in the same transaction as the insert, so a turn that lands while the
 * model writes still wins) or the user already got `maxPerHour` in the last hour. Each of these is the run's
 * recorded result. A delivery is announced on the bus as `notification` (the live feed wakes on it).
 */
export function createIdleSuggestion(
  ports: LoopPorts,
  settings: LoopSettings,
): ActionDefinition<IdleSuggestionArgs> {
  return {
    name: "idle_suggestion",
    description:
      "Writes one short suggestion from an idle user's upcoming dated facts into the notifications feed",
    args: idleSuggestionArgs,
    async run(context) {
      const { store, memory, suggester } = ports;
      const now = context.now();
      let userId: string;
      let lastActiveAt: number;
      if (context.event !== undefined) {
        const payload = userIdlePayload.safeParse(context.event.payload);
        if (!payload.success)
          throw new Error(`the ${context.event.name} event has no userId and lastActiveAt`);
        ({ userId, lastActiveAt } = payload.data);
      } else {
        if (context.args.userId === undefined) throw new Error("a manual run needs args.userId");
        userId = context.args.userId;
        const activity = store.activity(userId);
        if (activity === undefined) return { userId, delivered: false, reason: "the user has no activity" };
        lastActiveAt = activity.lastActiveAt;
      }
      const notDelivered = (reason: string, extra: Record<string, unknown> = {}) => ({
        userId,
        delivered: false,
        reason,
        ...extra,
      });

      const activity = store.activity(userId);
      if (activity !== undefined && activity.lastActiveAt > lastActiveAt) {
        return notDelivered("the user is active");
      }
      // idle_check judged an event's user idle (with its own, possibly overridden, idle time); a manual run is
      // held to the configured one.
      if (context.event === undefined && now - lastActiveAt < settings.idleMs) {
        return notDelivered("the user is not idle yet");
      }
      const maxPerHour = context.args.maxPerHour ?? settings.suggestionsPerHour;
      if (maxPerHour === 0) return notDelivered("suggestions are turned off (suggestionsPerHour: 0)");
      if (memory === undefined) return notDelivered("memory is turned off");

      const found = actionableFacts(memory.facts(userId, factsScanned), now).slice(0, factsInPrompt);
      if (found.length === 0) return notDelivered("nothing actionable");
      if (suggester === undefined) return notDelivered("no model to write suggestions in this process");

      const facts = found.map((item) => item.fact);
      const factIds = facts.map((fact) => fact.id);
      const ask = async () =>
        cleanSuggestion(await suggester.suggest({ userId, facts, now }, context.signal));
      // A sampled answer can be empty (the model ends at once, or writes only what cleaning removes): one
      // more sample before giving up.
      let text = await ask();
      if (text === "") {
        context.signal.throwIfAborted();
        text = await ask();
      }
      // A run that timed out while the model wrote was already recorded as such: deliver nothing late.
      context.signal.throwIfAborted();
      if (text === "") return notDelivered("the model wrote nothing", { factIds });

      const outcome = store.notifyIfIdle(
        {
          userId,
          kind: "suggestion",
          text,
          data: { factIds, action: "idle_suggestion" },
          createdAt: context.now(),
        },
        { idleSince: lastActiveAt, maxPerHour },
      );
      if (!outcome.delivered) return notDelivered(outcome.reason, { factIds });
      context.emit("notification", outcome.notification);
      return { userId, delivered: true, notificationId: outcome.notification.id, factIds, text };
    },
  };
}
