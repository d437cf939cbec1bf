export {
  ConversationStore,
  defaultConversationTitle,
  messageRoles,
  toContainsPattern,
  type Conversation,
  type ConversationMessage,
  type ConversationWithMessages,
  type ListConversationsOptions,
  type MessageMeta,
  type MessageRole,
  type NewMessage,
} from "./conversation-store.js";
