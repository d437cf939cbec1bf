import { Fragment } from "preact";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { describeError, query, type ApiClient } from "./api-client.js";
import { FactHistory } from "./fact-history.js";
import { MemoryGraph } from "./memory-graph.js";
import { entityKey } from "./memory-graph-layout.js";
import type { FactJson, ImportReportJson, ListResponse } from "./wire.js";

interface FactDraft {
  subject: string;
  relation: string;
  object: string;
}

/** Whether a fact matches the filter: every word of it in the subject, relation, object or `when`. */
export function matchesFilter(fact: FactJson, filter: string): boolean {
  const haystack = `${fact.subject} ${fact.relation} ${fact.object} ${fact.when ?? ""}`.toLowerCase();
  return filter
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((word) => haystack.includes(word));
}

/** Whether a fact is about the entity with this key (`entityKey`), as its subject or its object. */
export function isAbout(fact: FactJson, key: string): boolean {
  return entityKey(fact.subject) === key || entityKey(fact.object) === key;
}

/**
 * The body to POST to `/v1/memory/import` for an export file's text. The file's own `user` is where it came from:
 * it is dropped, so the facts go to the user this page shows (the server would import into a named user).
 */
export function readImportFile(text: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (caught) {
    const reason = caught instanceof Error ? caught.message : String(caught);
    throw new Error(`it is not JSON (${reason})`, { cause: caught });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return parsed;
  const { user: _from, ...document } = parsed as Record<string, unknown>;
  return document;
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Saves a download of `text` through a blob URL (CSP allows `blob:`; nothing leaves the machine). */
function download(text: string, fileName: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * The user's facts as a table: filter, add, edit (re-added with POST; the old fact is removed unless the store
 * closed it into history itself), pin (re-stated with `pinned: true`), forget (DELETE), each fact's history,
 * export and import; or as a graph of entities and relations, whose nodes filter the table to one entity.
 */
export function MemoryPage({ client }: { client: ApiClient }) {
  const [facts, setFacts] = useState<FactJson[]>([]);
  const [filter, setFilter] = useState("");
  const [status, setStatus] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [editing, setEditing] = useState<{ id: number; draft: FactDraft } | undefined>(undefined);
  const [adding, setAdding] = useState<FactDraft>({ subject: "", relation: "", object: "" });
  const [loaded, setLoaded] = useState(false);
  const [view, setView] = useState<"table" | "graph">("table");
  const [entity, setEntity] = useState<{ key: string; label: string } | undefined>(undefined);
  const [historyOpen, setHistoryOpen] = useState<ReadonlySet<number>>(new Set());
  const tableButton = useRef<HTMLButtonElement>(null);

  const load = useCallback(async () => {
    try {
      const page = await client.get<ListResponse<FactJson>>(`/v1/memory/facts${query({ limit: 1000 })}`);
      setFacts(page.data);
    } catch (caught) {
      setError(describeError(caught));
    } finally {
      setLoaded(true);
    }
  }, [client]);

  useEffect(() => void load(), [load]);

  /** Runs an action, then lists the facts again; its error stays shown (the reload does not clear it). */
  const act = async (work: () => Promise<string>) => {
    setError(undefined);
    try {
      setStatus(await work());
    } catch (caught) {
      setStatus(undefined);
      setError(describeError(caught));
    }
    await load();
  };

  const forget = (fact: FactJson) =>
    act(async () => {
      await client.json("DELETE", `/v1/memory/facts/${fact.id}`);
      return `Forgot “${fact.subject} ${fact.relation} ${fact.object}”.`;
    });

  const pin = (fact: FactJson) =>
    act(async () => {
      await client.json("POST", "/v1/memory/facts", {
        subject: fact.subject,
        relation: fact.relation,
        object: fact.object,
        negated: fact.negated,
        ...(fact.when === null ? {} : { when: fact.when }),
        pinned: true,
      });
      return `Pinned “${fact.subject} ${fact.relation} ${fact.object}”: it survives rotation.`;
    });

  const saveEdit = (fact: FactJson, draft: FactDraft) =>
    act(async () => {
      const saved = await client.json<FactJson & { closed: number[] }>("POST", "/v1/memory/facts", {
        ...draft,
        negated: fact.negated,
        pinned: fact.pinned,
      });
      if (saved.id !== fact.id && !saved.closed.includes(fact.id))
        await client.json("DELETE", `/v1/memory/facts/${fact.id}`);
      setEditing(undefined);
      return `Saved “${saved.subject} ${saved.relation} ${saved.object}”.`;
    });

  const add = (event: Event) => {
    event.preventDefault();
    void act(async () => {
      const saved = await client.json<FactJson>("POST", "/v1/memory/facts", adding);
      setAdding({ subject: "", relation: "", object: "" });
      return `Remembered “${saved.subject} ${saved.relation} ${saved.object}”.`;
    });
  };

  const exportAll = () =>
    act(async () => {
      const response = await client.fetch("/v1/memory/export");
      const text = await response.text();
      download(text, `sarai-memory-${new Date().toISOString().slice(0, 10)}.json`, "application/json");
      return "Exported every fact, history included.";
    });

  const importFile = (input: HTMLInputElement) => {
    const file = input.files?.[0];
    if (file === undefined) return;
    void act(async () => {
      try {
        const body = readImportFile(await file.text());
        const report = await client.json<ImportReportJson>("POST", "/v1/memory/import", body);
        return (
          `Imported ${file.name}: ${count(report.imported, "new fact", "new facts")}, ` +
          `${report.reinforced} already known, ` +
          `${count(report.historic, "earlier value", "earlier values")}.`
        );
      } catch (caught) {
        throw new Error(`Could not import ${file.name}: ${describeError(caught)}`, { cause: caught });
      } finally {
        // The same file picked again is a change too.
        input.value = "";
      }
    });
  };

  const toggleHistory = (id: number) =>
    setHistoryOpen((open) => {
      const next = new Set(open);
      if (!next.delete(id)) next.add(id);
      return next;
    });

  const showEntity = (key: string, label: string) => {
    setEntity({ key, label });
    setView("table");
    setStatus(`Showing the facts about “${label}”.`);
    // The Table button is there in both views: focus does not fall to the page when the graph goes.
    tableButton.current?.focus();
  };

  const shown = useMemo(
    () =>
      facts.filter(
        (fact) => matchesFilter(fact, filter) && (entity === undefined || isAbout(fact, entity.key)),
      ),
    [facts, filter, entity],
  );

  return (
    <section class="page" aria-labelledby="memory-title">
      <h1 id="memory-title">Memory</h1>
      <p class="lead">
        What SARAi remembers about you. Forgetting deletes a fact for good, history included.
      </p>
      <div class="toolbar">
        <label for="fact-filter">Filter facts</label>
        <input
          id="fact-filter"
          type="search"
          value={filter}
          placeholder="e.g. Lucía birthday"
          onInput={(event) => setFilter(event.currentTarget.value)}
        />
        <div class="view-toggle" role="group" aria-label="View">
          <button
            type="button"
            ref={tableButton}
            aria-pressed={view === "table"}
            onClick={() => setView("table")}
          >
            Table
          </button>
          <button type="button" aria-pressed={view === "graph"} onClick={() => setView("graph")}>
            Graph
          </button>
        </div>
      </div>
      <div class="toolbar transfer">
        <button type="button" onClick={() => void exportAll()}>
          Export
        </button>
        <label for="import-file">Import an export (JSON)</label>
        <input
          id="import-file"
          type="file"
          accept="application/json,.json"
          onChange={(event) => importFile(event.currentTarget)}
        />
      </div>
      {entity === undefined ? null : (
        <p class="entity-filter" data-testid="entity-filter">
          Only facts about <strong>{entity.label}</strong>.{" "}
          <button type="button" class="link" onClick={() => setEntity(undefined)}>
            Show all facts
          </button>
        </p>
      )}
      <div role="status" class="status-line">
        {status ?? ""}
      </div>
      {error === undefined ? null : (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {view === "graph" ? (
        <MemoryGraph facts={shown} onSelect={(node) => showEntity(node.id, node.label)} />
      ) : (
        <div class="table-wrap">
          <table class="facts">
            <caption class="visually-hidden">Facts, filtered by “{filter}”</caption>
            <thead>
              <tr>
                <th scope="col">Subject</th>
                <th scope="col">Relation</th>
                <th scope="col">Object</th>
                <th scope="col">When</th>
                <th scope="col">Confidence</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((fact) =>
                editing?.id === fact.id ? (
                  <EditRow
                    key={fact.id}
                    draft={editing.draft}
                    onChange={(draft) => setEditing({ id: fact.id, draft })}
                    onSave={() => void saveEdit(fact, editing.draft)}
                    onCancel={() => setEditing(undefined)}
                  />
                ) : (
                  <Fragment key={fact.id}>
                    <tr data-testid="fact-row" data-fact-id={fact.id}>
                      <td data-label="Subject">{fact.subject}</td>
                      <td data-label="Relation">
                        {fact.negated ? <span class="negated">not </span> : null}
                        {fact.relation}
                      </td>
                      <td data-label="Object" class="fact-object">
                        {fact.object}
                      </td>
                      <td data-label="When">{fact.when ?? ""}</td>
                      <td data-label="Confidence">
                        {Math.round(fact.confidence * 100)}%
                        {fact.pinned ? <span class="pin-mark"> · pinned</span> : null}
                      </td>
                      <td>
                        <div class="row-actions">
                          <button
                            type="button"
                            onClick={() =>
                              setEditing({
                                id: fact.id,
                                draft: {
                                  subject: fact.subject,
                                  relation: fact.relation,
                                  object: fact.object,
                                },
                              })
                            }
                            aria-label={`Edit ${fact.subject} ${fact.relation} ${fact.object}`}
                          >
                            Edit
                          </button>
                          <button
                            type="button"
                            onClick={() => toggleHistory(fact.id)}
                            aria-expanded={historyOpen.has(fact.id)}
                            aria-controls={`history-${fact.id}`}
                            aria-label={`History of ${fact.subject} ${fact.relation} ${fact.object}`}
                          >
                            History
                          </button>
                          <button
                            type="button"
                            onClick={() => void pin(fact)}
                            disabled={fact.pinned}
                            aria-label={`Pin ${fact.subject} ${fact.relation} ${fact.object}`}
                          >
                            {fact.pinned ? "Pinned" : "Pin"}
                          </button>
                          <button
                            type="button"
                            class="danger"
                            onClick={() => void forget(fact)}
                            aria-label={`Forget ${fact.subject} ${fact.relation} ${fact.object}`}
                          >
                            Forget
                          </button>
                        </div>
                      </td>
                    </tr>
                    {historyOpen.has(fact.id) ? (
                      <tr class="history-row">
                        <td colSpan={6}>
                          <FactHistory client={client} fact={fact} id={`history-${fact.id}`} />
                        </td>
                      </tr>
                    ) : null}
                  </Fragment>
                ),
              )}
            </tbody>
          </table>
        </div>
      )}
      {loaded && shown.length === 0 && view === "table" ? (
        <p class="empty">{facts.length === 0 ? "No facts yet." : "No fact matches the filter."}</p>
      ) : null}
      <form class="add-fact" onSubmit={add} aria-labelledby="add-fact-title">
        <h2 id="add-fact-title">Add a fact</h2>
        <FactFields draft={adding} onChange={setAdding} idPrefix="add" />
        <button type="submit" class="primary">
          Remember
        </button>
      </form>
    </section>
  );
}

function FactFields({
  draft,
  onChange,
  idPrefix,
}: {
  draft: FactDraft;
  onChange: (draft: FactDraft) => void;
  idPrefix: string;
}) {
  return (
    <div class="fact-fields">
      {(["subject", "relation", "object"] as const).map((field) => (
        <div class="field" key={field}>
          <label for={`${idPrefix}-${field}`}>{field[0]?.toUpperCase() + field.slice(1)}</label>
          <input
            id={`${idPrefix}-${field}`}
            value={draft[field]}
            required
            onInput={(event) => onChange({ ...draft, [field]: event.currentTarget.value })}
          />
        </div>
      ))}
    </div>
  );
}

function EditRow({
  draft,
  onChange,
  onSave,
  onCancel,
}: {
  draft: FactDraft;
  onChange: (draft: FactDraft) => void;
  onSave: () => void;
  onCancel: () => void;
}) {
  return (
    <tr class="editing" data-testid="fact-edit-row">
      <td colSpan={6}>
        <form
          class="edit-fact"
          onSubmit={(event) => {
            event.preventDefault();
            onSave();
          }}
          onKeyDown={(event) => {
            if (event.key === "Escape") onCancel();
          }}
        >
          <FactFields draft={draft} onChange={onChange} idPrefix="edit" />
          <button type="submit" class="primary">
            Save
          </button>
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        </form>
      </td>
    </tr>
  );
}
