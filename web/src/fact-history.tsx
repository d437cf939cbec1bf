import { useEffect, useState } from "preact/hooks";
import { describeError, query, type ApiClient } from "./api-client.js";
import type { FactJson, ListResponse } from "./wire.js";

/**
 * The closed facts among `facts` (the server's answer for one subject and relation), newest first: the values the
 * fact had before. The fact itself and the other current values of a multi-valued relation are not history.
 */
export function earlierValues(factId: number, facts: readonly FactJson[]): FactJson[] {
  return facts
    .filter((other) => other.id !== factId && other.valid_to !== null)
    .sort(
      (a, b) =>
        (b.valid_to ?? "").localeCompare(a.valid_to ?? "") ||
        b.valid_from.localeCompare(a.valid_from) ||
        b.id - a.id,
    );
}

type HistoryState =
  { state: "loading" } | { state: "failed"; message: string } | { state: "loaded"; facts: FactJson[] };

/**
 * A fact's earlier values (`GET /v1/memory/facts?subject&relation&include_history=true`), as a small table: the
 * value, when it held, and where it came from. Fetched again when the fact changes.
 */
export function FactHistory({ client, fact, id }: { client: ApiClient; fact: FactJson; id: string }) {
  const [history, setHistory] = useState<HistoryState>({ state: "loading" });
  const { subject, relation, id: factId, updated_at: updatedAt } = fact;

  useEffect(() => {
    const controller = new AbortController();
    setHistory({ state: "loading" });
    const path = `/v1/memory/facts${query({ subject, relation, include_history: true, limit: 1000 })}`;
    client.get<ListResponse<FactJson>>(path, controller.signal).then(
      (page) => setHistory({ state: "loaded", facts: earlierValues(factId, page.data) }),
      (caught: unknown) => {
        if (!controller.signal.aborted) setHistory({ state: "failed", message: describeError(caught) });
      },
    );
    return () => controller.abort();
    // updatedAt is not read: a changed fact (pinned, reinforced) is asked about again.
  }, [client, subject, relation, factId, updatedAt]);

  return (
    <div class="fact-history" id={id} data-testid="fact-history">
      {history.state === "loading" ? <p class="muted small">Loading history…</p> : null}
      {history.state === "failed" ? (
        <p class="error" role="alert">
          Could not load the history: {history.message}
        </p>
      ) : null}
      {history.state === "loaded" && history.facts.length === 0 ? (
        <p class="muted small">
          No earlier values: “{subject} {relation}” has not changed since SARAi learned it.
        </p>
      ) : null}
      {history.state === "loaded" && history.facts.length > 0 ? (
        <table class="history">
          <caption>
            Earlier values of “{subject} {relation}”, newest first
          </caption>
          <thead>
            <tr>
              <th scope="col">Value</th>
              <th scope="col">Valid from</th>
              <th scope="col">Valid to</th>
              <th scope="col">Source</th>
            </tr>
          </thead>
          <tbody>
            {history.facts.map((old) => (
              <tr key={old.id} data-testid="history-row">
                <td data-label="Value" class="history-value">
                  {old.negated ? <span class="negated">not </span> : null}
                  {old.object}
                </td>
                <td data-label="Valid from">
                  <Time iso={old.valid_from} />
                </td>
                <td data-label="Valid to">
                  <Time iso={old.valid_to} />
                </td>
                <td data-label="Source">{old.source}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}

function Time({ iso }: { iso: string | null }) {
  if (iso === null) return <span>—</span>;
  return <time dateTime={iso}>{new Date(iso).toLocaleString()}</time>;
}
