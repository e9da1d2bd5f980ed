/** Links that download an export of what a list shows, with the list's filters. The
 * session cookie authenticates a plain GET, so the browser streams the file itself. */
export type ExportFilters = Record<string, string | number | boolean | string[] | undefined>;

/** A list value (`result`) repeats its parameter, as the API takes it. */
export function exportUrl(path: string, filters: ExportFilters, format: string) {
  const query = new URLSearchParams({ format });
  for (const [key, value] of Object.entries(filters)) {
    if (Array.isArray(value)) value.forEach((v) => query.append(key, v));
    else if (value !== undefined && value !== "") query.set(key, String(value));
  }
  return `${path}?${query.toString()}`;
}

export function ExportLinks({
  path,
  filters,
  what,
}: {
  path: "/api/v1/calls/export" | "/api/v1/contacts/export";
  filters: ExportFilters;
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
