import { useState } from "preact/hooks";
import { describeError, type ApiClient } from "./api-client.js";
import type { MessageMeta } from "./wire.js";

export interface FeedbackControlsProps {
  client: ApiClient;
  message: { content: string; meta: MessageMeta };
  /** The user message the answer replied to. */
  prompt: string;
}

/**
 * Thumbs up or down on an answer, sent to `POST /v1/feedback` with the prompt, the answer and its response id
 * (rating it again replaces the rating); a thumbs down may carry a correction.
 */
export function FeedbackControls({ client, message, prompt }: FeedbackControlsProps) {
  const [sent, setSent] = useState<"up" | "down" | undefined>(undefined);
  const [correcting, setCorrecting] = useState(false);
  const [correction, setCorrection] = useState("");
  const [error, setError] = useState<string | undefined>(undefined);

  const submit = async (rating: "up" | "down", correctionText?: string) => {
    try {
      await client.json("POST", "/v1/feedback", {
        rating,
        prompt,
        answer: message.content,
        ...(correctionText === undefined || correctionText.trim() === ""
          ? {}
          : { correction: correctionText }),
        ...(message.meta.response_id === undefined ? {} : { response_id: message.meta.response_id }),
        ...(message.meta.model === undefined ? {} : { model: message.meta.model }),
      });
      setSent(rating);
      setCorrecting(false);
      setError(undefined);
    } catch (caught) {
      setError(describeError(caught));
    }
  };

  return (
    <div class="feedback">
      <button
        type="button"
        class={`icon ${sent === "up" ? "chosen" : ""}`}
        aria-pressed={sent === "up"}
        aria-label="Good answer"
        onClick={() => void submit("up")}
      >
        <span aria-hidden="true">▲ </span>Good
      </button>
      <button
        type="button"
        class={`icon ${sent === "down" ? "chosen" : ""}`}
        aria-pressed={sent === "down" || correcting}
        aria-label="Bad answer"
        onClick={() => setCorrecting(true)}
      >
        <span aria-hidden="true">▼ </span>Bad
      </button>
      {sent === undefined ? null : (
        <span class="muted small" role="status">
          Thanks: feedback recorded.
        </span>
      )}
      {correcting ? (
        <form
          class="correction"
          onSubmit={(event) => {
            event.preventDefault();
            void submit("down", correction);
          }}
        >
          <label for={`correction-${message.meta.response_id ?? "x"}`}>
            What should it have said? (optional)
          </label>
          <textarea
            id={`correction-${message.meta.response_id ?? "x"}`}
            value={correction}
            onInput={(event) => setCorrection(event.currentTarget.value)}
          />
          <button type="submit" class="primary">
            Send feedback
          </button>
          <button type="button" onClick={() => setCorrecting(false)}>
            Cancel
          </button>
        </form>
      ) : null}
      {error === undefined ? null : (
        <span class="error small" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}
