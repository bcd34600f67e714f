import path from 'node:path';
import { createApiClient, parseJsonBody, type ApiCall, type ApiClient, type ApiResponse } from '../core/api-client.js';
import { SourceError, errorMessage } from '../core/errors.js';
import { redact } from '../core/redact.js';
import { envPrefix, type ExtractReport, type ExtractRequest, type SourceIO } from '../core/source.js';
import { rawDatasetDir, recordResponses, saveResponse, type ResponseEntry } from '../core/raw-layer.js';

/**
 * What every JSON API source does the same way: an API client set up from the request, and each
 * answer checked as JSON before it is written, as received, to the raw layer.
 */
export interface ApiExtraction {
  api: ApiClient;
  rawDir: string;
  /** Fetches, checks the body is JSON (and whatever `check` adds, throwing), writes it to <rawDir>/<relativePath>. */
  fetchToRaw(call: ApiCall, relativePath: string, key: string, check?: (body: unknown) => void): Promise<{ entry: ResponseEntry; body: unknown }>;
  /** The same for an answer already received (a 2xx; anything else is refused here). */
  keep(response: ApiResponse, relativePath: string, key: string, check?: (body: unknown) => void): Promise<{ entry: ResponseEntry; body: unknown }>;
  /** Adds fresh answers to the manifest, dropping the earlier entries `replaces` picks. */
  record(fresh: readonly ResponseEntry[], replaces: (earlier: ResponseEntry) => boolean): Promise<void>;
  /** The report: what was fetched now, and what was kept from before. */
  report(fresh: readonly ResponseEntry[], kept?: readonly ResponseEntry[]): ExtractReport;
}

export function startApiExtraction(source: string, request: ExtractRequest, io: SourceIO, credentialEnv?: string): ApiExtraction {
  // Every request goes to the base URL's origin, the one credentials were configured for, or is refused unsent.
  const api = createApiClient({ http: io.http, log: io.log, now: io.now, rateLimit: request.rateLimit, credentialEnv, baseUrlEnv: `${envPrefix(source)}_BASE_URL`, origin: request.baseUrl });
  const rawDir = rawDatasetDir(request.dataDir, source, request.dataset);
  async function keep(response: ApiResponse, relativePath: string, key: string, check?: (body: unknown) => void): Promise<{ entry: ResponseEntry; body: unknown }> {
    const what = `${response.request.method} ${response.request.url}`;
    if (response.status < 200 || response.status >= 300) {
      throw new SourceError(`${what} answered HTTP ${response.status}: ${redact(response.body.subarray(0, 200).toString('utf8'))}`, {
        hint: credentialEnv ? `check ${credentialEnv} (environment or .env in the working directory)` : 'the request was refused',
      });
    }
    const body = parseJsonBody(response);
    try {
      check?.(body);
    } catch (error) {
      if (error instanceof SourceError) throw error;
      throw new SourceError(`${what}: ${errorMessage(error)}`, { hint: 'nothing was written to the raw layer for it; check --base-url' });
    }
    const entry = await saveResponse(rawDir, relativePath, key, response);
    io.log.debug(`${what}: ${entry.bytes} bytes -> ${path.join(rawDir, relativePath)}`);
    return { entry, body };
  }

  return {
    api,
    rawDir,
    fetchToRaw: async (call, relativePath, key, check) => keep(await api.send(call), relativePath, key, check),
    keep,
    async record(fresh, replaces) {
      await recordResponses(rawDir, { source, dataset: request.dataset }, fresh, { now: io.now(), log: io.log, replaces });
    },
    report(fresh, kept = []) {
      const files = [
        ...fresh.map((entry) => ({ file: entry.path, url: entry.request.url, status: 'downloaded' as const, bytes: entry.bytes })),
        ...kept.map((entry) => ({ file: entry.path, url: entry.request.url, status: 'unchanged' as const, bytes: 0 })),
      ];
      return { source, dataset: request.dataset, url: request.baseUrl ?? '', rawDir, files };
    },
  };
}
