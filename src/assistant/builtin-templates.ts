/**
 * The reflection templates compiled into SARAi: the trusted fallback when a template file is refused (its
 * signature does not verify). They are the shipped `templates/reflection/*.md`, byte for byte; a test keeps
 * the two equal.
 */
export const builtinReflectionTexts = {
  critique: `Your previous answer to the request below has problems. Write an improved answer.

Request:
{{question}}

Previous answer:
{{answer}}

Problems found:
{{issues}}

Write only the improved answer, complete, with nothing before or after it. Keep what was right; fix what the
problems name. Answer in the language of the request.
`,
  assess: `Grade an answer to a request. Be strict: a score of 10 means correct, complete and nothing to fix; 0 means
wrong or unrelated. List at most three concrete problems, each in one short sentence; an empty list only when
there is nothing to fix.

Request:
{{question}}

Answer:
{{answer}}

Reply with JSON: {"score": <integer 0-10>, "issues": [<strings>]}.
`,
} as const;
