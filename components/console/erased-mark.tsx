/**
 * How the console shows a personal field whose data subject was erased
 * (docs/personal-data.md, "Erasure"): a mark, never the text "[erased]" — the
 * event's `personal_data.erased` names the erased fields, so a value a client
 * sent as the text "[erased]" is shown as the value it is, and the two never
 * read alike.
 */
export function ErasedMark() {
  return (
    <span
      data-testid="erased-field"
      className="rounded border border-dashed border-slate-500 px-1 font-sans text-xs italic text-slate-700 dark:border-slate-400 dark:text-slate-300"
      title="Erased: this person's key was destroyed, so nobody can read the value any more"
    >
      erased
    </span>
  );
}

/** The erased fields of an event (JSON pointers), as the read paths state them. */
export function erasedPointers(event: { personal_data?: { erased: string[] } | null }): Set<string> {
  return new Set(event.personal_data?.erased ?? []);
}
