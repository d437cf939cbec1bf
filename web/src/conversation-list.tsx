import { useState } from "preact/hooks";
import type { ConversationJson } from "./wire.js";

export interface ConversationListProps {
  conversations: ConversationJson[];
  currentId: string | undefined;
  search: string;
  /** `false`: the server keeps no conversations, so they last as long as the tab. */
  persistent: boolean;
  onSearch: (text: string) => void;
  onOpen: (id: string) => void;
  onNew: () => void;
  onRename: (id: string, title: string) => Promise<void>;
  onDelete: (id: string) => Promise<void>;
}

/** The sidebar: new, search, and each conversation with rename and a two-step delete. */
export function ConversationList(props: ConversationListProps) {
  const [renaming, setRenaming] = useState<{ id: string; title: string } | undefined>(undefined);
  const [confirming, setConfirming] = useState<string | undefined>(undefined);

  return (
    <nav class="sidebar" id="conversation-list" aria-label="Conversations">
      <button type="button" class="primary new-chat" onClick={props.onNew}>
        New chat
      </button>
      <label for="conversation-search" class="visually-hidden">
        Search conversations
      </label>
      <input
        id="conversation-search"
        type="search"
        placeholder="Search conversations"
        value={props.search}
        onInput={(event) => props.onSearch(event.currentTarget.value)}
      />
      {props.persistent ? null : (
        <p class="muted small">This server keeps no conversations: they last until the tab closes.</p>
      )}
      <ul class="conversation-items">
        {props.conversations.map((conversation) => (
          <li
            key={conversation.id}
            class={conversation.id === props.currentId ? "current" : ""}
            data-testid="conversation-item"
          >
            {renaming?.id === conversation.id ? (
              <form
                class="rename"
                onSubmit={(event) => {
                  event.preventDefault();
                  const title = renaming.title.trim();
                  setRenaming(undefined);
                  if (title !== "") void props.onRename(conversation.id, title);
                }}
              >
                <label for={`rename-${conversation.id}`} class="visually-hidden">
                  New title
                </label>
                <input
                  id={`rename-${conversation.id}`}
                  value={renaming.title}
                  onInput={(event) => setRenaming({ id: conversation.id, title: event.currentTarget.value })}
                  onKeyDown={(event) => {
                    if (event.key === "Escape") setRenaming(undefined);
                  }}
                  // The field appears because the user asked to rename: it takes the focus.
                  autoFocus
                />
                <button type="submit">Save</button>
              </form>
            ) : (
              <>
                <button
                  type="button"
                  class="conversation-open"
                  aria-current={conversation.id === props.currentId ? "page" : undefined}
                  onClick={() => props.onOpen(conversation.id)}
                >
                  {conversation.title}
                </button>
                <div class="conversation-actions">
                  <button
                    type="button"
                    class="icon"
                    aria-label={`Rename ${conversation.title}`}
                    onClick={() => setRenaming({ id: conversation.id, title: conversation.title })}
                  >
                    Rename
                  </button>
                  {confirming === conversation.id ? (
                    <button
                      type="button"
                      class="icon danger"
                      aria-label={`Really delete ${conversation.title}`}
                      onClick={() => {
                        setConfirming(undefined);
                        void props.onDelete(conversation.id);
                      }}
                      onBlur={() => setConfirming(undefined)}
                    >
                      Really delete?
                    </button>
                  ) : (
                    <button
                      type="button"
                      class="icon"
                      aria-label={`Delete ${conversation.title}`}
                      onClick={() => setConfirming(conversation.id)}
                    >
                      Delete
                    </button>
                  )}
                </div>
              </>
            )}
          </li>
        ))}
      </ul>
    </nav>
  );
}
