import { useEffect, useState } from "preact/hooks";
import { ApiError, describeError, type ApiClient } from "./api-client.js";

interface LoopStatusJson {
  running: boolean;
  restarts: number;
  actions: {
    name: string;
    enabled: boolean;
    schedule: string | null;
    next_run_at: string | null;
    last_run: {
      outcome: string;
      started_at: string | null;
      duration_ms: number | null;
      error: string | null;
    } | null;
  }[];
  processes: { owner: string; pid: number; alive: boolean; heartbeat_age_ms: number }[];
}

interface RepairStatusJson {
  faults?: unknown[];
  held_patches?: unknown[];
  workarounds?: unknown[];
  patches_enabled?: boolean;
}

type Section<T> = { state: "loading" } | { state: "ok"; value: T } | { state: "unavailable"; reason: string };

async function load<T>(client: ApiClient, path: string): Promise<Section<T>> {
  try {
    return { state: "ok", value: await client.get<T>(path) };
  } catch (error) {
    if (error instanceof ApiError && error.status === 403)
      return { state: "unavailable", reason: "Needs an API key that is not bound to a user." };
    return { state: "unavailable", reason: describeError(error) };
  }
}

/** Saves an authenticated download (a plain link could not send the API key). */
async function downloadWithKey(client: ApiClient, path: string, fileName: string): Promise<void> {
  const response = await client.fetch(path);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Loop status, red-team reports and self-repair for admins; each section says why when its route refuses. */
export function AdminPage({ client }: { client: ApiClient }) {
  const [loop, setLoop] = useState<Section<LoopStatusJson>>({ state: "loading" });
  const [reports, setReports] = useState<Section<{ data: { id: string }[] }>>({ state: "loading" });
  const [repair, setRepair] = useState<Section<RepairStatusJson>>({ state: "loading" });
  const [error, setError] = useState<string | undefined>(undefined);

  useEffect(() => {
    let live = true;
    void load<LoopStatusJson>(client, "/v1/loop/status").then((s) => live && setLoop(s));
    void load<{ data: { id: string }[] }>(client, "/v1/redteam/reports").then((s) => live && setReports(s));
    void load<RepairStatusJson>(client, "/v1/repair/status").then((s) => live && setRepair(s));
    return () => {
      live = false;
    };
  }, [client]);

  const fetchReport = (id: string) =>
    downloadWithKey(
      client,
      `/v1/redteam/reports/${encodeURIComponent(id)}?format=html`,
      `redteam-${id}.html`,
    ).catch((caught: unknown) => setError(describeError(caught)));

  return (
    <section class="page" aria-labelledby="admin-title">
      <h1 id="admin-title">Admin</h1>
      {error === undefined ? null : (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <h2>Proactive loop</h2>
      {loop.state === "loading" ? (
        <p>Loading…</p>
      ) : loop.state === "unavailable" ? (
        <p class="muted">{loop.reason}</p>
      ) : (
        <>
          <p data-testid="loop-summary">
            {loop.value.running
              ? "The schedule runs in this server."
              : "The schedule runs in a separate sarai loop."}{" "}
            Restarts: {loop.value.restarts}. Live loop processes:{" "}
            {loop.value.processes.filter((p) => p.alive).length}.
          </p>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Action</th>
                  <th scope="col">Schedule</th>
                  <th scope="col">Next run</th>
                  <th scope="col">Last outcome</th>
                </tr>
              </thead>
              <tbody>
                {loop.value.actions.map((action) => (
                  <tr key={action.name}>
                    <td data-label="Action">
                      {action.name}
                      {action.enabled ? "" : " (off)"}
                    </td>
                    <td data-label="Schedule">{action.schedule ?? "on events"}</td>
                    <td data-label="Next run">
                      {action.next_run_at === null ? "—" : new Date(action.next_run_at).toLocaleString()}
                    </td>
                    <td data-label="Last outcome">
                      {action.last_run === null
                        ? "never ran"
                        : `${action.last_run.outcome}${action.last_run.error === null ? "" : `: ${action.last_run.error}`}`}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      <h2>Red-team reports</h2>
      {reports.state === "loading" ? (
        <p>Loading…</p>
      ) : reports.state === "unavailable" ? (
        <p class="muted">{reports.reason}</p>
      ) : reports.value.data.length === 0 ? (
        <p class="muted">No campaign has run yet.</p>
      ) : (
        <ul>
          {reports.value.data
            .slice(-10)
            .reverse()
            .map((report) => (
              <li key={report.id}>
                <button type="button" class="link" onClick={() => void fetchReport(report.id)}>
                  Download report {report.id} (HTML)
                </button>
              </li>
            ))}
        </ul>
      )}
      <h2>Self-repair</h2>
      {repair.state === "loading" ? (
        <p>Loading…</p>
      ) : repair.state === "unavailable" ? (
        <p class="muted">{repair.reason}</p>
      ) : (
        <p>
          Open faults: {repair.value.faults?.length ?? 0}. Held patches:{" "}
          {repair.value.held_patches?.length ?? 0}. Workarounds: {repair.value.workarounds?.length ?? 0}.
          Signed patches {repair.value.patches_enabled === true ? "enabled" : "disabled"}.
        </p>
      )}
    </section>
  );
}
