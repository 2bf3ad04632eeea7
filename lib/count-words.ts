/** Counts as people write them: "1 event", "2 events", "more than 10,000 events". */

/** `n` and the noun, singular for exactly one. */
export function countOf(n: number, singular: string, plural = `${singular}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? singular : plural}`;
}

/** A match count that is exact, or a lower bound ("more than …"). */
export function matchCount(count: { count: number; exact: boolean }, singular = 'event'): string {
  return count.exact ? countOf(count.count, singular) : `more than ${countOf(count.count, singular)}`;
}
