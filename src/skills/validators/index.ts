export type { ValidationResult, Validator } from "./validation-result.js";
export { validateJson } from "./validate-json.js";
export { validateMarkdown } from "./validate-markdown.js";
export { pythonAvailable, validatePython } from "./validate-python.js";
export type { ValidatePythonOptions } from "./validate-python.js";
export { validateReadOnlySql } from "./validate-read-only-sql.js";
