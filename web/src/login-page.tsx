import { useState } from "preact/hooks";
import { ApiClient, ApiError, describeError } from "./api-client.js";
import type { ListResponse, ModelJson } from "./wire.js";

export interface LoginPageProps {
  /** Why the login shows: the first 401, or a key that stopped working. */
  reason?: string;
  onLogin: (client: ApiClient, models: ModelJson[], remember: boolean, key: string) => void;
}

/** Asks for the API key the server requires, checks it against `/v1/models` and hands over a client. */
export function LoginPage({ reason, onLogin }: LoginPageProps) {
  const [key, setKey] = useState("");
  const [remember, setRemember] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const given = key.trim();
    if (given === "") {
      setError("Enter the API key.");
      return;
    }
    setBusy(true);
    setError(undefined);
    const client = new ApiClient(given);
    try {
      const models = await client.get<ListResponse<ModelJson>>("/v1/models");
      setKey("");
      onLogin(client, models.data, remember, given);
    } catch (caught) {
      setError(
        caught instanceof ApiError && caught.status === 401
          ? "The server refused that key."
          : describeError(caught),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="login" id="main">
      <form class="login-card" onSubmit={(event) => void submit(event)} aria-describedby="login-help">
        <h1>SARAi</h1>
        <p id="login-help">
          {reason ?? "This server needs an API key."} The key stays in this tab's memory and is never written
          to local storage.
        </p>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autocomplete="current-password"
          value={key}
          onInput={(event) => setKey(event.currentTarget.value)}
          required
        />
        <label class="checkbox">
          <input
            type="checkbox"
            checked={remember}
            onChange={(event) => setRemember(event.currentTarget.checked)}
          />
          Keep it until this tab closes (sessionStorage)
        </label>
        {error === undefined ? null : (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Checking…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
