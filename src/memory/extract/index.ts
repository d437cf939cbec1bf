/** Rule-based fact extraction for entity memory, Spanish and English (see CONVENTIONS.md). */
export { extractFacts } from "./extract-facts.js";
export { detectLanguage } from "./language.js";
