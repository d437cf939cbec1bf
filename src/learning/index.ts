export { FeedbackStore, type Feedback, type NewFeedback, type Rating } from "./feedback-store.js";
