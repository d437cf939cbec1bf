import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, describeError, isAbortError, query, type ApiClient } from "./api-client.js";
import { readEventStream } from "./event-stream.js";
import type { ListResponse, NotificationJson } from "./wire.js";

export interface NotificationFeed {
  items: NotificationJson[];
  /** `live` while the stream is open; `off` when the loop is disabled; `error` while reconnecting. */
  state: "connecting" | "live" | "off" | "error";
  message?: string;
  unread: number;
  markRead: () => void;
}

const reconnectMs = 3000;

/**
 * The user's notifications: the latest from `GET /v1/notifications`, then new ones live from
 * `/v1/notifications/stream` read with fetch (an `EventSource` cannot send the API key), reconnecting after the
 * last id seen when the stream ends (the server closes it after `server.requestTimeoutMs`).
 */
export function useNotifications(client: ApiClient): NotificationFeed {
  const [items, setItems] = useState<NotificationJson[]>([]);
  const [state, setState] = useState<NotificationFeed["state"]>("connecting");
  const [message, setMessage] = useState<string | undefined>(undefined);
  const [readUpTo, setReadUpTo] = useState(0);
  const lastId = useRef(0);

  useEffect(() => {
    const controller = new AbortController();
    const add = (incoming: NotificationJson[]) => {
      const fresh = incoming.filter((n) => n.id > lastId.current);
      if (fresh.length === 0) return;
      lastId.current = Math.max(...fresh.map((n) => n.id));
      setItems((previous) => [...previous, ...fresh]);
    };
    const run = async () => {
      for (let first = true; !controller.signal.aborted; first = false) {
        try {
          if (first) {
            const page = await client.get<ListResponse<NotificationJson>>(
              `/v1/notifications${query({ limit: 100 })}`,
              controller.signal,
            );
            add(page.data);
            setReadUpTo((current) => (current === 0 ? lastId.current : current));
          }
          const response = await client.fetch(`/v1/notifications/stream${query({ after: lastId.current })}`, {
            signal: controller.signal,
            headers: { accept: "text/event-stream" },
          });
          setState("live");
          setMessage(undefined);
          if (response.body === null) throw new Error("the server sent no stream");
          for await (const event of readEventStream(response.body, controller.signal)) {
            add([JSON.parse(event.data) as NotificationJson]);
          }
        } catch (error) {
          if (controller.signal.aborted || isAbortError(error)) return;
          if (error instanceof ApiError && error.code === "loop_disabled") {
            setState("off");
            setMessage(error.message);
            return;
          }
          setState("error");
          setMessage(describeError(error));
        }
        await new Promise((resolve) => setTimeout(resolve, reconnectMs));
      }
    };
    void run();
    return () => controller.abort();
  }, [client]);

  const markRead = useCallback(() => setReadUpTo(lastId.current), []);
  const unread = items.filter((n) => n.id > readUpTo).length;
  return { items, state, ...(message === undefined ? {} : { message }), unread, markRead };
}

/** The notifications page: newest first, with the stream's state. */
export function NotificationsPage({ feed }: { feed: NotificationFeed }) {
  const { markRead } = feed;
  useEffect(() => markRead(), [feed.items.length, markRead]);
  const newestFirst = [...feed.items].reverse();
  return (
    <section class="page" aria-labelledby="notifications-title">
      <h1 id="notifications-title">Notifications</h1>
      <p class={`stream-state state-${feed.state}`} data-testid="notification-state">
        {feed.state === "live"
          ? "Live: new notifications appear here as the proactive loop delivers them."
          : feed.state === "off"
            ? `The proactive loop is off on this server: ${feed.message ?? ""}`
            : feed.state === "error"
              ? `Reconnecting… (${feed.message ?? ""})`
              : "Connecting…"}
      </p>
      {newestFirst.length === 0 ? (
        <p class="empty">No notifications yet.</p>
      ) : (
        <ul class="notification-list" aria-live="polite">
          {newestFirst.map((n) => (
            <li key={n.id} class="notification" data-testid="notification">
              <span class="notification-kind">{n.kind}</span>
              <p class="notification-text">{n.text}</p>
              <time dateTime={n.created_at}>{new Date(n.created_at).toLocaleString()}</time>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
