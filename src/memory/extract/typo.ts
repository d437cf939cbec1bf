/**
 * Trigger words typed with one slip ("trabjo", "wroks", "viive"): an index of one-deletion variants, checked
 * with the restricted Damerau–Levenshtein distance. A slip counts only when the word typed or the word meant
 * has five letters or more ("viive" → "vive", but not "wrok" → "work"), and a lookup answers only when
 * exactly one word is in reach.
 */
export interface TypoIndex {
  /** The indexed word within one edit of `word`, or undefined when none or several are. */
  correct(word: string): string | undefined;
  /** Every indexed word within one edit of `word` (none for a word that is itself indexed). */
  candidates(word: string): string[];
}

/**
 * Builds an index over `words` (folded keys); a slip counts when either word has `minLength` letters or more,
 * or, with `shortSwaps`, when two neighbouring letters of a shorter word are swapped ("lvie" → "live").
 */
export function createTypoIndex(words: Iterable<string>, minLength = 5, shortSwaps = false): TypoIndex {
  const byVariant = new Map<string, string[]>();
  const indexed = new Set<string>();
  const add = (variant: string, word: string): void => {
    const list = byVariant.get(variant);
    if (list === undefined) byVariant.set(variant, [word]);
    else if (!list.includes(word)) list.push(word);
  };
  for (const word of words) {
    if (word.length < minLength - 1 || indexed.has(word) || !/^[a-zñç]+$/.test(word)) continue;
    indexed.add(word);
    add(word, word);
    for (let i = 0; i < word.length; i++) add(word.slice(0, i) + word.slice(i + 1), word);
  }
  const candidates = (word: string): string[] => {
    if (word.length < minLength - 1 || word.length > 24 || indexed.has(word)) return [];
    const found: string[] = [];
    const check = (variant: string): void => {
      for (const candidate of byVariant.get(variant) ?? []) {
        if (found.includes(candidate)) continue;
        // Four letters: only two neighbours swapped ("wokr", "vvie"), not any slip ("wrok" is not "work").
        if (Math.max(candidate.length, word.length) < minLength && !(shortSwaps && isSwap(word, candidate)))
          continue;
        if (withinOneEdit(word, candidate)) found.push(candidate);
      }
    };
    check(word);
    for (let i = 0; i < word.length; i++) check(word.slice(0, i) + word.slice(i + 1));
    return found;
  };
  return {
    correct(word: string): string | undefined {
      const found = candidates(word);
      return found.length === 1 ? found[0] : undefined;
    },
    candidates,
  };
}

/** True when one insertion, deletion, substitution or swap of neighbours turns `a` into `b`. */
export function withinOneEdit(a: string, b: string): boolean {
  if (a === b) return true;
  const la = a.length;
  const lb = b.length;
  if (Math.abs(la - lb) > 1) return false;
  let i = 0;
  while (i < la && i < lb && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (la === lb) {
    if (a.slice(i + 1) === b.slice(i + 1)) return true;
    return (
      a.charAt(i) === b.charAt(i + 1) && a.charAt(i + 1) === b.charAt(i) && a.slice(i + 2) === b.slice(i + 2)
    );
  }
  return la > lb ? a.slice(i + 1) === b.slice(i) : a.slice(i) === b.slice(i + 1);
}

/** True when `a` is `b` with two different neighbouring letters swapped ("lvie" / "live"). */
export function isSwap(a: string, b: string): boolean {
  if (a.length !== b.length || a === b) return false;
  let i = 0;
  while (i < a.length && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return (
    a.charAt(i) === b.charAt(i + 1) && a.charAt(i + 1) === b.charAt(i) && a.slice(i + 2) === b.slice(i + 2)
  );
}
