export {
  chatRoles,
  FeedbackStore,
  type ChatRole,
  type ChatTurn,
  type Feedback,
  type NewFeedback,
  type Rating,
} from "./feedback-store.js";
