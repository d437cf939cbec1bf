/** A CLI usage or input error: printed without a stack trace, exit code 2. */
export class UsageError extends Error {}
