/** The browsable page: one HTML document with its script and styles inline (no build step, nothing fetched from elsewhere). */
export function renderPage(): string {
  return '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>etl serve</title></head><body><h1>etl serve</h1><p>See <a href="/v1/datasets">/v1/datasets</a>.</p></body></html>';
}
