/** Links that download an export of what a list shows, with the list's filters. The
 * session cookie authenticates a plain GET, so the browser streams the file itself. */
export function exportUrl(path: string, filters: Record<string, string | number | boolean | undefined>, format: string) {
  const query = new URLSearchParams({ format });
  for (const [key, value] of Object.entries(filters)) {
    if (value !== undefined && value !== "") query.set(key, String(value));
  }
  return `${path}?${query.toString()}`;
}

export function ExportLinks({
  path,
  filters,
  what,
}: {
  path: "/api/v1/calls/export" | "/api/v1/contacts/export";
  filters: Record<string, string | number | boolean | undefined>;
  /** Shown in the links' accessible names, e.g. "calls". */
  what: string;
}) {
  return (
    <div className="actions" role="group" aria-label={`Export ${what}`}>
      <a className="button" href={exportUrl(path, filters, "csv")} download aria-label={`Export ${what} as CSV`}>
        Export CSV
      </a>
      <a className="button" href={exportUrl(path, filters, "xlsx")} download aria-label={`Export ${what} as Excel`}>
        Export XLSX
      </a>
    </div>
  );
}
