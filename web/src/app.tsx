import { useEffect, useState } from "preact/hooks";
import { AdminPage } from "./admin-page.js";
import { ApiClient, ApiError, describeError } from "./api-client.js";
import { ChatPage } from "./chat-page.js";
import { openConversationStore, type ConversationStore } from "./conversation-store.js";
import { LoginPage } from "./login-page.js";
import { MemoryPage } from "./memory-page.js";
import { NotificationsPage, useNotifications } from "./notifications.js";
import type { ListResponse, ModelJson } from "./wire.js";

/** sessionStorage only, and only when the user asks: never localStorage. */
const keyStorage = "sarai.apiKey";

export type Route = "chat" | "memory" | "notifications" | "admin";
const routes: { route: Route; label: string }[] = [
  { route: "chat", label: "Chat" },
  { route: "memory", label: "Memory" },
  { route: "notifications", label: "Notifications" },
  { route: "admin", label: "Admin" },
];

/** The page a location hash names (`#/memory`); anything else is the chat. */
export function routeFromHash(hash: string): Route {
  const name = hash.replace(/^#\/?/, "");
  return routes.some((r) => r.route === name) ? (name as Route) : "chat";
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => routeFromHash(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(routeFromHash(location.hash));
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

type Session =
  | { state: "starting" }
  | { state: "login"; reason?: string }
  | { state: "failed"; message: string }
  | { state: "ready"; client: ApiClient; models: ModelJson[]; store: ConversationStore };

function readStoredKey(): string | undefined {
  try {
    return sessionStorage.getItem(keyStorage) ?? undefined;
  } catch {
    return undefined;
  }
}

/** The whole UI: the login when the server asks for a key, else the pages. */
export function App() {
  const [session, setSession] = useState<Session>({ state: "starting" });

  const start = async (client: ApiClient, models?: ModelJson[]) => {
    try {
      const listed = models ?? (await client.get<ListResponse<ModelJson>>("/v1/models")).data;
      setSession({ state: "ready", client, models: listed, store: await openConversationStore(client) });
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        sessionStorage.removeItem(keyStorage);
        setSession({
          state: "login",
          ...(client.hasKey ? { reason: "The saved key no longer works." } : {}),
        });
      } else setSession({ state: "failed", message: describeError(error) });
    }
  };

  useEffect(() => void start(new ApiClient(readStoredKey())), []);

  if (session.state === "starting") return <p class="splash">Connecting to SARAi…</p>;
  if (session.state === "failed")
    return (
      <main class="login" id="main">
        <div class="login-card">
          <h1>SARAi</h1>
          <p class="error" role="alert">
            Could not reach the server: {session.message}
          </p>
          <button type="button" class="primary" onClick={() => void start(new ApiClient(readStoredKey()))}>
            Retry
          </button>
        </div>
      </main>
    );
  if (session.state === "login")
    return (
      <LoginPage
        {...(session.reason === undefined ? {} : { reason: session.reason })}
        onLogin={(client, models, remember, key) => {
          if (remember) sessionStorage.setItem(keyStorage, key);
          void start(client, models);
        }}
      />
    );
  return (
    <Shell
      session={session}
      onLogout={() => {
        sessionStorage.removeItem(keyStorage);
        setSession({ state: "login" });
      }}
    />
  );
}

function Shell({
  session,
  onLogout,
}: {
  session: Extract<Session, { state: "ready" }>;
  onLogout: () => void;
}) {
  const route = useRoute();
  const feed = useNotifications(session.client);
  const [toast, setToast] = useState<string | undefined>(undefined);
  const [seen, setSeen] = useState<number | undefined>(undefined);

  // A toast for notifications that arrive while the page is open (not for the ones already there).
  useEffect(() => {
    const newest = feed.items[feed.items.length - 1];
    if (seen === undefined) {
      if (feed.state !== "connecting") setSeen(newest?.id ?? 0);
      return undefined;
    }
    if (newest === undefined || newest.id <= seen) return undefined;
    setSeen(newest.id);
    setToast(newest.text);
    const timer = setTimeout(() => setToast(undefined), 8000);
    return () => clearTimeout(timer);
  }, [feed.items, feed.state, seen]);

  return (
    <div class="shell">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <span class="brand">SARAi</span>
        <nav aria-label="Pages">
          <ul>
            {routes.map(({ route: r, label }) => (
              <li key={r}>
                <a href={`#/${r}`} aria-current={r === route ? "page" : undefined}>
                  {label}
                  {r === "notifications" && feed.unread > 0 ? (
                    <span class="badge" aria-label={`${feed.unread} unread`}>
                      {feed.unread}
                    </span>
                  ) : null}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        {session.client.hasKey ? (
          <button type="button" class="logout" onClick={onLogout}>
            Sign out
          </button>
        ) : null}
      </header>
      <main id="main" tabIndex={-1}>
        {route === "chat" ? (
          <ChatPage client={session.client} models={session.models} store={session.store} />
        ) : route === "memory" ? (
          <MemoryPage client={session.client} />
        ) : route === "notifications" ? (
          <NotificationsPage feed={feed} />
        ) : (
          <AdminPage client={session.client} />
        )}
      </main>
      <div class="toast-region" role="status" aria-live="polite">
        {toast === undefined ? null : (
          <div class="toast" data-testid="toast">
            <p>
              <strong>New notification:</strong> {toast}
            </p>
            <button type="button" class="icon" aria-label="Dismiss" onClick={() => setToast(undefined)}>
              ×
            </button>
          </div>
        )}
      </div>
    </div>
  );
}
