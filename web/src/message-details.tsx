import type { MessageMeta } from "./wire.js";

/**
 * What happened in a turn besides the text: the facts recalled into the prompt and stored from the exchange
 * (shown beside the answer), and the reflexive loop's iterations behind a disclosure.
 */
export function MessageDetails({ meta }: { meta: MessageMeta }) {
  const recalled = meta.memory?.recalled ?? [];
  const stored = meta.memory?.stored ?? [];
  const reflection = meta.reflection;
  if (recalled.length === 0 && stored.length === 0 && reflection === undefined && meta.warnings === undefined)
    return null;
  return (
    <div class="turn-details">
      {recalled.length === 0 ? null : (
        <div class="facts-used" data-testid="facts-recalled">
          <span class="facts-label">Recalled</span>
          <ul>
            {recalled.map((fact) => (
              <li key={fact.id}>{fact.text}</li>
            ))}
          </ul>
        </div>
      )}
      {stored.length === 0 ? null : (
        <div class="facts-used" data-testid="facts-stored">
          <span class="facts-label">Remembered</span>
          <ul>
            {stored.map((fact) => (
              <li key={fact.id}>{fact.text}</li>
            ))}
          </ul>
        </div>
      )}
      {meta.warnings?.map((warning) => (
        <p class="muted small" key={warning}>
          {warning}
        </p>
      ))}
      {reflection === undefined ? null : (
        <details class="reflection" data-testid="reflection">
          <summary>
            Reflection: {reflection.iterations.length} iteration
            {reflection.iterations.length === 1 ? "" : "s"}, answer from #{reflection.chosen}
            {reflection.auto_corrected ? ", corrected" : ""}
            {meta.fallback_used === true ? ", fallback model" : ""}
          </summary>
          <p class="small">
            Stopped by {reflection.stopped_by} after {reflection.total_latency_ms} ms.
          </p>
          <ol>
            {reflection.iterations.map((iteration) => (
              <li key={iteration.n}>
                <p class="small">
                  Confidence{" "}
                  {iteration.confidence === null ? "unknown" : `${Math.round(iteration.confidence * 100)}%`}
                  {iteration.signals.token_probability === undefined
                    ? ""
                    : ` · token probability ${Math.round(iteration.signals.token_probability * 100)}%`}
                  {iteration.signals.self_assessment === undefined
                    ? ""
                    : ` · self-assessment ${iteration.signals.self_assessment.score}`}
                  {iteration.corrected ? " · corrected" : ""} · {iteration.latency_ms} ms
                </p>
                {iteration.signals.verifiers?.map((verifier) => (
                  <p class="small" key={verifier.name}>
                    {verifier.name}: {verifier.ok ? "passed" : `failed (${verifier.issues.join("; ")})`}
                  </p>
                ))}
                {iteration.error === undefined ? null : <p class="error small">{iteration.error}</p>}
                <pre class="iteration-text">{iteration.response}</pre>
              </li>
            ))}
          </ol>
        </details>
      )}
    </div>
  );
}
