/** What a validator says about one output: the parsed value, or what is wrong and where. */
export type ValidationResult = { ok: true; value?: unknown } | { ok: false; error: string };

/** Checks one model output. Synchronous validators return the result; `validatePython` returns a promise. */
export type Validator = (text: string) => ValidationResult | Promise<ValidationResult>;
