import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { finished } from 'node:stream/promises';
import type { Dispatcher } from 'undici';
import { ConfigError, EtlError, SourceError, errorMessage } from './errors.js';
import { describeWriteError, withAtomicFile } from './atomic-file.js';
import { sleep } from './concurrency.js';
import { isHttpUrl } from './origin.js';
import { redact, stripCredentials } from './redact.js';
import type { Logger } from './log.js';

export interface HttpOptions {
  /** Longest silence: waiting for the response headers, or between two body chunks. */
  timeoutMs: number;
  /** Longest time for one URL, first request to last byte, retries and their waits included. Default 300 s. */
  deadlineMs?: number;
  /** Extra attempts after the first, for 429, 5xx and network failures. */
  retries: number;
  /** First backoff; doubles each attempt, with jitter. Retry-After overrides it. */
  retryBaseMs: number;
  /** Longest single wait: a backoff is capped at it; a Retry-After asking for longer ends the request at once, naming the time asked. */
  maxRetryWaitMs: number;
  userAgent: string;
  log: Logger;
  /** The flag the URLs came from, named in hints: `--url` (the default) or `--base-url`. */
  urlFlag?: string;
  /** What a user with no network can do instead, added to the hint when a host does not resolve. */
  offlineHint?: string;
}

export interface Validators {
  etag?: string | null;
  lastModified?: string | null;
}

export type DownloadResult =
  | { status: 'not-modified' }
  | { status: 'downloaded'; bytes: number; sha256: string; etag: string | null; lastModified: string | null; contentType: string | null };

type Method = 'GET' | 'PUT' | 'POST';

export interface RequestInit {
  method?: Method;
  headers?: Record<string, string>;
  body?: string;
  /** The URL as messages show it, when `url` holds a secret (api-client passes its redacted form). */
  shownAs?: string;
  /** Aborted: the request ends at once, and is neither retried nor waited for (rejects with the signal's reason). */
  signal?: AbortSignal;
}

export interface HttpAnswer {
  status: number;
  contentType: string | null;
  /** Where a redirect points; never followed here. */
  location: string | null;
  body: Buffer;
}

export interface HttpClient {
  getText(url: string): Promise<string>;
  /**
   * Streams the body to `destination` atomically; a 304 leaves the file alone. `verify` sees the
   * complete temp file before it replaces the destination: throw to keep the previous file.
   */
  download(url: string, destination: string, validators?: Validators, verify?: (tempPath: string) => Promise<void>): Promise<DownloadResult>;
  /** Any method, the body in memory (API answers). 429, 5xx and network failures are retried; other answers are returned for the caller to judge. */
  request(url: string, init?: RequestInit): Promise<HttpAnswer>;
  close(): Promise<void>;
}

export const DEFAULT_DEADLINE_MS = 300_000;
const MAX_REDIRECTS = 5;
/** A page is read into memory: anything bigger is not a dataset page. */
const MAX_TEXT_BYTES = 32 * 1024 * 1024;
const RETRIABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);
/** Failures a later attempt can heal: the connection dropped, was refused, or went silent. */
const RETRIABLE_NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN']);
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL']);
/** The pool was closed under the request: no later attempt can get through. */
const CLIENT_GONE_CODES = new Set(['UND_ERR_CLOSED', 'UND_ERR_DESTROYED']);

type BodySink = (chunk: Buffer) => void;
interface Exchange {
  status: number;
  headers: IncomingHttpHeaders;
}

/**
 * Requests go through undici's pool, but bodies are taken with our own dispatch handler that never
 * pauses the HTTP parser: undici 7 asserts `!this.paused` (an uncatchable crash, nodejs/undici#5360)
 * when a close-delimited response (HTTP/1.0, `Connection: close`, no Content-Length) ends while its
 * body is under backpressure. Chunks go straight to a file stream (or memory, for pages) instead;
 * the disk drains faster than the network fills, so what waits in memory stays small.
 */
export function createHttpClient(options: HttpOptions): HttpClient {
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const urlFlag = options.urlFlag ?? '--url';
  // One keep-alive pool for the whole run: ONS serves every edition from one host. undici is loaded on
  // first use so commands that never fetch (and --help) start fast.
  let pool: Promise<Dispatcher> | undefined;
  const connect = () =>
    (pool ??= import('undici').then(
      ({ Agent }) => new Agent({ keepAliveTimeout: 10_000, connections: 8, headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs }),
    ));

  async function withRetries<T>(url: string, method: Method, attempt: (signal: AbortSignal) => Promise<T>, cancel?: AbortSignal): Promise<T> {
    requireHttpUrl(method, url);
    const deadline = AbortSignal.timeout(deadlineMs);
    const signal = cancel ? AbortSignal.any([deadline, cancel]) : deadline;
    const giveUpAt = Date.now() + deadlineMs;
    for (let tryNumber = 0; ; tryNumber++) {
      let failure: EtlError;
      try {
        if (cancel?.aborted) throw cancel.reason;
        return await attempt(signal);
      } catch (error) {
        // Cancelled by the caller (another request already failed): nothing to retry or report.
        if (cancel?.aborted) throw cancel.reason;
        if (deadline.aborted) throw deadlineError(method, url, deadlineMs, error instanceof EtlError ? error : undefined);
        failure = error instanceof EtlError ? error : classifyNetworkError(method, url, error, urlFlag, options.offlineHint);
      }
      const retriable = failure instanceof SourceError && failure.retriable;
      if (!retriable || tryNumber >= options.retries) throw failure;
      const asked = retryAfter(failure);
      // The server asks for longer than this run will wait: said at once, with its time, rather than hammering it early.
      if (asked && (asked.ms > options.maxRetryWaitMs || Date.now() + asked.ms >= giveUpAt)) throw tooLongToWait(failure, asked, options.maxRetryWaitMs, deadlineMs, giveUpAt);
      const wait = asked?.ms ?? backoff(tryNumber, options);
      if (Date.now() + wait >= giveUpAt) throw deadlineError(method, url, deadlineMs, failure);
      options.log.warn(`${failure.message}; retry ${tryNumber + 1}/${options.retries} in ${(wait / 1000).toFixed(1)} s`);
      await sleep(wait, cancel);
    }
  }

  /** One GET, following redirects on the same host only; `onBody` chooses where a 2xx body goes. */
  async function get(url: string, signal: AbortSignal, headers: Record<string, string>, onBody: (response: Exchange) => BodySink): Promise<Exchange> {
    const dispatcher = await connect();
    const start = new URL(url);
    const visited = [start.href];
    for (let current = start; ; ) {
      // Credentials from --url go to the origin they were given with, never to another one a redirect names (http to https included).
      const requestHeaders = { 'user-agent': options.userAgent, accept: '*/*', ...(current.origin === start.origin ? basicAuth(start) : {}), ...headers };
      const response = await exchange(dispatcher, current, requestHeaders, signal, (r) => (r.status >= 200 && r.status < 300 ? onBody(r) : undefined));
      const location = header(response.headers, 'location');
      if (REDIRECT_STATUS.has(response.status) && location) {
        current = followRedirect(url, start, current, location, visited);
        continue;
      }
      if (response.status === 304 || (response.status >= 200 && response.status < 300)) return response;
      throw new HttpStatusError('GET', url, response.status, header(response.headers, 'retry-after'));
    }
  }

  return {
    async getText(url) {
      return withRetries(url, 'GET', async (signal) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        await get(url, signal, {}, () => (chunk) => {
          bytes += chunk.length;
          if (bytes > MAX_TEXT_BYTES) throw new SourceError(`GET ${redact(url)}: the page is larger than ${MAX_TEXT_BYTES / 1024 / 1024} MiB`, { hint: `check ${urlFlag} points at the dataset page` });
          chunks.push(chunk);
        });
        return Buffer.concat(chunks).toString('utf8');
      });
    },

    async download(url, destination, validators = {}, verify) {
      return withRetries(url, 'GET', async (signal) => {
        const conditional: Record<string, string> = {};
        if (validators.etag) conditional['if-none-match'] = validators.etag;
        if (validators.lastModified) conditional['if-modified-since'] = validators.lastModified;
        let response: Exchange | undefined;
        const written = await withAtomicFile(destination, async (temp) => {
          const file = createWriteStream(temp);
          const hash = createHash('sha256');
          let bytes = 0;
          let fileError: Error | undefined;
          file.on('error', (error) => (fileError ??= error));
          try {
            response = await get(url, signal, conditional, () => (chunk) => {
              if (fileError) throw fileError;
              hash.update(chunk);
              bytes += chunk.length;
              file.write(chunk);
            });
            file.end();
            await finished(file);
          } catch (error) {
            // The stream opens its file asynchronously: wait until it is closed, or an open finishing after
            // withAtomicFile's cleanup would leave the temp file behind.
            const failure = fileError ?? error;
            file.destroy();
            if (!file.closed) await new Promise<void>((resolve) => file.once('close', () => resolve()));
            throw failure;
          }
          // A body shorter than its Content-Length is undici's error (UND_ERR_RES_CONTENT_LENGTH_MISMATCH), retried.
          if (response.status === 304) return null;
          await verify?.(temp);
          return { bytes, sha256: hash.digest('hex') };
        }, { keep: (result) => result !== null }).catch((error: unknown) => {
          throw describeWriteError(error, destination);
        });
        if (!written || !response) return { status: 'not-modified' } as const;
        return {
          status: 'downloaded',
          ...written,
          etag: header(response.headers, 'etag'),
          lastModified: header(response.headers, 'last-modified'),
          contentType: header(response.headers, 'content-type'),
        } as const;
      });
    },

    async request(url, init = {}) {
      const method = init.method ?? 'GET';
      const shownUrl = init.shownAs ?? url;
      return withRetries(shownUrl, method, async (signal) => {
        const target = new URL(url);
        const headers = { 'user-agent': options.userAgent, accept: 'application/json', ...basicAuth(target), ...init.headers };
        const chunks: Buffer[] = [];
        let bytes = 0;
        // Every status's body is kept: an API explains a refusal in it. Redirects are not followed.
        const response = await exchange(await connect(), target, headers, signal, () => (chunk) => {
          bytes += chunk.length;
          if (bytes > MAX_TEXT_BYTES) throw new SourceError(`${method} ${redact(shownUrl)}: the answer is larger than ${MAX_TEXT_BYTES / 1024 / 1024} MiB`);
          chunks.push(chunk);
        }, init);
        if (RETRIABLE_STATUS.has(response.status) || response.status >= 500) throw new HttpStatusError(method, shownUrl, response.status, header(response.headers, 'retry-after'));
        return { status: response.status, contentType: header(response.headers, 'content-type'), location: header(response.headers, 'location'), body: Buffer.concat(chunks) };
      }, init.signal);
    },

    close: async () => {
      if (pool) await (await pool).close();
    },
  };
}

/** One request and its whole response through a handler that never pauses the parser (see above). */
function exchange(
  dispatcher: Dispatcher,
  url: URL,
  headers: Record<string, string>,
  signal: AbortSignal,
  onResponse: (response: Exchange) => BodySink | undefined,
  init: Pick<RequestInit, 'method' | 'body'> = {},
): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    let controller: Dispatcher.DispatchController | undefined;
    let response: Exchange | undefined;
    let sink: BodySink | undefined;
    const onAbort = (): void => controller?.abort(signal.reason as Error);
    const settle = (error?: Error): void => {
      signal.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(response!);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        if (signal.aborted) c.abort(signal.reason as Error);
      },
      // A 1xx (103 Early Hints) comes here too; the final answer replaces it.
      onResponseStart(_c, status, responseHeaders) {
        response = { status, headers: responseHeaders };
        sink = onResponse(response);
      },
      onResponseData(c, chunk) {
        try {
          sink?.(chunk);
        } catch (error) {
          c.abort(error as Error);
        }
      },
      onResponseEnd: () => settle(),
      onResponseError: (_c, error) => settle(error),
    };
    // undici reports a failure to start (a closed pool, a bad header) through the handler, not by throwing.
    dispatcher.dispatch({ origin: url.origin, path: url.pathname + url.search, method: init.method ?? 'GET', headers, body: init.body }, handler);
  });
}

/** Credentials in the URL (`http://user:pass@host/`) become a Basic header: never sent elsewhere, never stored. */
function basicAuth(url: URL): Record<string, string> {
  if (!url.username && !url.password) return {};
  const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  return { authorization: `Basic ${Buffer.from(credentials).toString('base64')}` };
}

/** Links to other hosts are refused, so redirects to them are too, and from https to http; loops and long chains end with a clear error. */
function followRedirect(original: string, start: URL, current: URL, location: string, visited: string[]): URL {
  const next = new URL(location, current);
  if (next.host !== start.host || !isHttp(next.protocol)) {
    throw new SourceError(`GET ${redact(original)} redirected to another host (${redact(next.origin)}); not followed`, {
      hint: 'etl only follows redirects on the host it was given: pass the final address with --url if you trust it',
    });
  }
  if (current.protocol === 'https:' && next.protocol === 'http:') {
    throw new SourceError(`GET ${redact(original)} redirected from https to http (${stripCredentials(next.href)}); not followed`, {
      hint: 'etl never downgrades to plain http (credentials from --url would travel in cleartext): fix the server, or pass an http:// address with --url if you trust the network',
    });
  }
  if (visited.includes(next.href)) {
    throw new SourceError(`GET ${redact(original)}: redirect loop (${[...visited, next.href].map((u) => redact(new URL(u).pathname + new URL(u).search)).join(' -> ')})`, {
      hint: 'the server redirects in a circle: check --url, or tell the site owner',
    });
  }
  if (visited.length > MAX_REDIRECTS) {
    throw new SourceError(`GET ${redact(original)}: more than ${MAX_REDIRECTS} redirects`, { hint: 'pass the final address with --url' });
  }
  visited.push(next.href);
  return next;
}

class HttpStatusError extends SourceError {
  constructor(method: Method, readonly url: string, readonly status: number, readonly retryAfter: string | null) {
    super(`${method} ${redact(url)} answered HTTP ${status}`, {
      retriable: RETRIABLE_STATUS.has(status),
      hint: status === 404 ? 'the page or file has moved: check --url' : status === 401 || status === 403 ? 'check the credentials for this source' : 'try again later',
    });
  }
}

function deadlineError(method: Method, url: string, deadlineMs: number, last?: EtlError): SourceError {
  return new SourceError(`${method} ${redact(url)} did not finish within ${deadlineMs / 1000} s${last ? ` (last attempt: ${last.message})` : ''}`, {
    retriable: true,
    hint: 'the server is too slow or stalls: try again later, or raise --download-timeout',
  });
}

/** A URL that can never be fetched (`127.0.0.1:8080/page`, `ftp://…`) is the user's to fix (exit 2), not a network fault to retry. */
function requireHttpUrl(method: Method, url: string): void {
  if (isHttpUrl(url)) return;
  throw new ConfigError(`cannot ${method} ${redact(url)}: not an http:// or https:// URL`, {
    hint: /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? 'etl downloads over http:// and https:// only' : `write it with its scheme, e.g. http://${url}`,
  });
}

const isHttp = (protocol: string): boolean => protocol === 'http:' || protocol === 'https:';

/** DNS failures end at once (retrying offline only delays the message); other network failures may be retried. */
function classifyNetworkError(method: Method, url: string, error: unknown, urlFlag: string, offlineHint: string | undefined): SourceError {
  const code = (error as { code?: string } | undefined)?.code ?? '';
  if (DNS_CODES.has(code)) {
    return new SourceError(`${method} ${redact(url)}: cannot resolve host ${new URL(url).hostname} (${code})`, {
      cause: error,
      hint: `check the network (DNS, proxy, offline?) and the host name in ${urlFlag}${offlineHint ? `; ${offlineHint}` : ''}`,
    });
  }
  // The whole-URL deadline (an AbortSignal's TimeoutError) never comes here: withRetries reports it first.
  const retriable = RETRIABLE_NETWORK_CODES.has(code) || (code.startsWith('UND_ERR') && !CLIENT_GONE_CODES.has(code));
  const timedOut = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
  return new SourceError(`${method} ${redact(url)} failed: ${timedOut ? 'no data for longer than --timeout' : code ? `${code} (${errorMessage(error)})` : errorMessage(error)}`, {
    retriable,
    cause: error,
    hint: 'check the network and the URL, then run again; finished downloads are kept',
  });
}

function header(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name];
  if (Array.isArray(value)) return value[0] ?? null;
  return value ?? null;
}

/** The wait a Retry-After header asks for (seconds or an HTTP date), uncapped; none when absent or unreadable. */
function retryAfter(error: EtlError): { ms: number; header: string } | undefined {
  if (!(error instanceof HttpStatusError) || !error.retryAfter) return undefined;
  const seconds = Number(error.retryAfter);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(error.retryAfter) - Date.now();
  return Number.isFinite(ms) && ms >= 0 ? { ms, header: error.retryAfter } : undefined;
}

function tooLongToWait(failure: EtlError, asked: { ms: number; header: string }, maxWaitMs: number, deadlineMs: number, giveUpAt: number): SourceError {
  const limit =
    asked.ms > maxWaitMs
      ? `longer than etl waits before a retry (${formatWait(maxWaitMs)})`
      : `past the ${formatWait(deadlineMs)} this URL may take (--download-timeout; ${formatWait(Math.max(0, giveUpAt - Date.now()))} left)`;
  const until = new Date(Date.now() + asked.ms);
  return new SourceError(`${failure.message} and asks to be retried in ${formatWait(asked.ms)} (Retry-After: ${asked.header.slice(0, 64)}), ${limit}; not retried`, {
    hint: Number.isNaN(until.getTime())
      ? 'the server asks etl never to come back: check with whoever runs it'
      : `the server asks to be left alone until ${until.toISOString().replace(/\.\d+Z$/, 'Z')}: run again after that`,
  });
}

/** 0.05 s, 45 s, 20 min, 5.2 h, 11.6 days. */
function formatWait(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 120) return `${Number(seconds.toFixed(seconds < 10 ? 2 : 0))} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Number((seconds / 3600).toFixed(1))} h`;
  return `${Number((seconds / 86_400).toFixed(1))} days`;
}

/** Without Retry-After: a base that doubles each attempt, half of it fixed and half jitter, capped. */
function backoff(tryNumber: number, options: HttpOptions): number {
  const exponential = options.retryBaseMs * 2 ** tryNumber;
  return Math.min(exponential / 2 + Math.random() * exponential / 2, options.maxRetryWaitMs);
}
