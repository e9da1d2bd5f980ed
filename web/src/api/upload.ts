// File upload with progress. fetch() cannot report upload progress, so this one request
// uses XMLHttpRequest; its answer goes through the same error handling as the rest.
import { getCsrfToken, toProblem, type Schema } from "./client";

export type ImportReport = Schema<"ImportReport">;

export function importCsv(
  file: File,
  options: { campaignId?: number; onProgress: (fraction: number) => void },
): Promise<ImportReport> {
  const query = options.campaignId != null ? `?campaign_id=${options.campaignId}` : "";
  const form = new FormData();
  form.append("file", file, file.name);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/v1/contacts/import${query}`);
    const csrf = getCsrfToken();
    if (csrf) xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) options.onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // Not JSON: described by status below.
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as ImportReport);
      else reject(toProblem(xhr.status, body));
    };
    xhr.onerror = () => reject(new TypeError("network error"));
    xhr.send(form);
  });
}
