import { useCallback, useState } from "react";

/// Cursor paging for the API's newest-first lists: a stack of the cursors seen so far.
export function useCursorPages() {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  return {
    cursor: cursors[cursors.length - 1],
    page: cursors.length,
    hasPrev: cursors.length > 1,
    prev: useCallback(() => setCursors((c) => c.slice(0, -1)), []),
    next: useCallback((cursor: string) => setCursors((c) => [...c, cursor]), []),
    reset: useCallback(() => setCursors([undefined]), []),
  };
}

export type CursorPages = ReturnType<typeof useCursorPages>;

export function Pager({ pages, next }: { pages: CursorPages; next: string | null | undefined }) {
  if (!pages.hasPrev && !next) return null;
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" disabled={!pages.hasPrev} onClick={pages.prev}>
        ← Newer
      </button>
      <span className="muted small">Page {pages.page}</span>
      <button type="button" disabled={!next} onClick={() => next && pages.next(next)}>
        Older →
      </button>
    </nav>
  );
}
