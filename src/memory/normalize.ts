/**
 * The matching key of a subject, relation or object: Unicode NFKC, case folded, accents removed, inner whitespace
 * collapsed to one space, ends trimmed. "  Lucía  Pérez " and "lucia perez" share a key.
 */
export function normalizeKey(text: string): string {
  return text
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .normalize("NFKC")
    .toLowerCase()
    .replace(/\s+/gu, " ")
    .trim();
}
