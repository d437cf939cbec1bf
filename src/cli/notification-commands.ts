import { existsSync } from "node:fs";
import type { Command } from "commander";
import type { LoadedConfig } from "../config/index.js";
import { JobStore, type Notification } from "../proactive/index.js";
import { UsageError } from "./usage-error.js";

interface NotificationFlags {
  user: string;
  after?: number;
  limit: number;
  follow?: boolean;
  json?: boolean;
}

interface RawFlags {
  user: string;
  after?: string;
  limit: string;
  follow?: boolean;
  json?: boolean;
}

/** How often `--follow` reads the loop database for new notifications. */
const followPollMs = 1000;

/**
 * `sarai notifications`: what the proactive loop delivered to a user (idle suggestions), read straight from the
 * loop database (`proactive.database`), so it works whether the loop runs in `sarai serve` or `sarai loop`.
 */
export function registerNotificationCommands(program: Command, loadConfigured: () => LoadedConfig): void {
  program
    .command("notifications")
    .description(
      "the user's notifications from the proactive loop (idle suggestions); --follow waits for new ones",
    )
    .option("-u, --user <id>", "whose notifications", "anonymous")
    .option("--after <id>", "only those after this id (default: the newest --limit)")
    .option("--limit <n>", "at most this many, 1–1000", "20")
    .option("-f, --follow", "keep running and print new ones as they arrive, until Ctrl-C")
    .option("--json", "print JSON (with --follow: one object per line)")
    .action(async (raw: RawFlags) => {
      const flags: NotificationFlags = {
        user: raw.user,
        ...(raw.follow === undefined ? {} : { follow: raw.follow }),
        ...(raw.json === undefined ? {} : { json: raw.json }),
        limit: parseCount("--limit", raw.limit, 1, 1000),
        ...(raw.after === undefined
          ? {}
          : { after: parseCount("--after", raw.after, 0, Number.MAX_SAFE_INTEGER) }),
      };
      const { config } = loadConfigured();
      const file = config.proactive.database;
      if (flags.follow !== true) {
        // Read-only: looking must not create the database.
        const found = existsSync(file) ? readOnce(file, flags) : [];
        if (flags.json === true) process.stdout.write(`${JSON.stringify(found.map(toJson), null, 2)}\n`);
        else if (found.length === 0) process.stdout.write(`no notifications for ${flags.user}\n`);
        else for (const notification of found) process.stdout.write(formatLine(notification));
        return;
      }
      await follow(file, flags);
    });
}

function readOnce(file: string, flags: NotificationFlags): Notification[] {
  const store = JobStore.open({ file, readonly: true });
  try {
    return flags.after === undefined
      ? newest(store, flags.user, flags.limit)
      : store.notifications(flags.user, flags.after, flags.limit);
  } finally {
    store.close();
  }
}

/** The newest `limit` notifications, oldest first. */
function newest(store: JobStore, userId: string, limit: number): Notification[] {
  let kept: Notification[] = [];
  let last = 0;
  for (;;) {
    const page = store.notifications(userId, last, 1000);
    if (page.length === 0) return kept;
    kept = [...kept, ...page].slice(-limit);
    last = page[page.length - 1]?.id ?? last;
  }
}

async function follow(file: string, flags: NotificationFlags): Promise<void> {
  // The loop creates this file too; opening it here first is the same database.
  const store = JobStore.open({ file });
  const print = (notification: Notification) =>
    process.stdout.write(
      flags.json === true ? `${JSON.stringify(toJson(notification))}\n` : formatLine(notification),
    );
  try {
    const backlog =
      flags.after === undefined
        ? newest(store, flags.user, flags.limit)
        : store.notifications(flags.user, flags.after, flags.limit);
    for (const notification of backlog) print(notification);
    let last = backlog[backlog.length - 1]?.id ?? flags.after ?? 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        for (const notification of store.notifications(flags.user, last, 1000)) {
          print(notification);
          last = notification.id;
        }
      }, followPollMs);
      const stop = () => {
        clearInterval(timer);
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        resolve();
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
  } finally {
    store.close();
  }
}

function toJson(notification: Notification) {
  return {
    id: notification.id,
    user: notification.userId,
    kind: notification.kind,
    text: notification.text,
    data: notification.data,
    created_at: new Date(notification.createdAt).toISOString(),
  };
}

function formatLine(notification: Notification): string {
  const when = new Date(notification.createdAt).toISOString().replace("T", " ").slice(0, 16);
  return `#${notification.id}  ${when}  ${notification.kind}  ${notification.text}\n`;
}

function parseCount(name: string, value: string, min: number, max: number): number {
  const n = /^\d{1,15}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max))
    throw new UsageError(`${name} must be a whole number from ${min} to ${max}, got "${value}"`);
  return n;
}
