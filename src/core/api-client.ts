import { SourceError } from './errors.js';
import type { HttpClient } from './http.js';
import type { Logger } from './log.js';
import { describeRefusedOrigin } from './origin.js';
import { redact } from './redact.js';
import { reveal, shown, Secret, type Reveal, type SecretUrl } from './secret.js';
import { sleep } from './concurrency.js';

/**
 * JSON APIs on top of the shared HTTP client (which does timeouts, retries with backoff and
 * Retry-After, the User-Agent): a per-host rate limit, the request as it may be recorded (no
 * secrets), and answers that will not heal (401, 403, 404) turned into errors that say what to check.
 */
export interface ApiCall {
  method?: 'GET' | 'PUT' | 'POST';
  /**
   * A string holds no secret (or only one an API answer put there). A SecretUrl builds the URL with each
   * Secret shown by name, for the record and every message, and with it revealed only for the bytes sent.
   */
  url: string | SecretUrl;
  /** Sent as application/x-www-form-urlencoded. */
  form?: ReadonlyArray<[string, string | Secret]>;
  headers?: Record<string, string | Secret>;
  /** Statuses the caller handles itself (e.g. ClimaTempo's "locale not registered"). */
  allowStatus?: readonly number[];
  /** Aborted when the rest of the extract has already failed: the call ends at once, unretried. */
  signal?: AbortSignal;
}

/** What the raw layer's manifest says about a request: enough to repeat it, never a secret. */
export interface RecordedRequest {
  method: string;
  url: string;
  body?: string;
}

export interface ApiResponse {
  status: number;
  /** Exactly as received. */
  body: Buffer;
  request: RecordedRequest;
  fetchedAt: string;
}

export interface ApiClientOptions {
  http: HttpClient;
  log: Logger;
  now: () => Date;
  /** Requests per second to any one host; 0 means no limit. */
  rateLimit: number;
  /** The env var named in the hint when the API refuses the credentials. */
  credentialEnv?: string;
  /** The env var (or flag) named in the hint on a 404. */
  baseUrlEnv: string;
  /**
   * The origin the credentials were configured for (the base URL): a request anywhere else (a next-page
   * link, another port, a metadata address) is refused before it is sent. Default: the first request's.
   */
  origin?: string;
}

export interface ApiClient {
  send(call: ApiCall): Promise<ApiResponse>;
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  const nextSlot = new Map<string, number>();
  const waitForSlot = async (url: string, signal?: AbortSignal): Promise<void> => {
    if (options.rateLimit <= 0) return;
    const host = new URL(url).host;
    const now = Date.now();
    const at = Math.max(now, nextSlot.get(host) ?? 0);
    nextSlot.set(host, at + 1000 / options.rateLimit);
    if (at > now) await sleep(at - now, signal);
  };

  // A base URL that is not one is left to the request to report (a usage error, exit 2).
  let allowed = options.origin !== undefined && URL.canParse(options.origin) ? new URL(options.origin).origin : undefined;
  return {
    async send(call) {
      const method = call.method ?? 'GET';
      // Everything that may be printed or stored is made from this form, secrets shown by name.
      const show = build(call, shown);
      if (!URL.canParse(show.url)) throw new SourceError(`${method} ${JSON.stringify(redact(show.url).slice(0, 100))} refused: not a URL`, { hint: `an API answer (a next-page link) named it; check --base-url / ${options.baseUrlEnv}` });
      const request: RecordedRequest = { method, url: recordableUrl(show.url), ...(show.body === undefined ? {} : { body: redact(show.body) }) };
      allowed ??= new URL(show.url).origin;
      refuseOtherOrigin(method, show.url, allowed, options);
      await waitForSlot(show.url, call.signal);
      // The one place a secret's value is used: the request as sent, to the origin checked above.
      const sent = build(call, reveal);
      refuseOtherOrigin(method, sent.url, allowed, options);
      const answer = await options.http.request(sent.url, {
        method,
        body: sent.body,
        signal: call.signal,
        headers: { ...(sent.body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }), ...sent.headers },
        shownAs: request.url,
      });
      if (REDIRECT_STATUS.has(answer.status)) throw redirectRefusal(method, request.url, answer.status, answer.location, allowed, options);
      const ok = answer.status >= 200 && answer.status < 300;
      if (!ok && !call.allowStatus?.includes(answer.status)) throw refusal(method, request.url, answer.status, answer.body, options);
      return { status: answer.status, body: answer.body, request, fetchedAt: options.now().toISOString() };
    },
  };
}

const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);

function build(call: ApiCall, reveal: Reveal): { url: string; body: string | undefined; headers: Record<string, string> } {
  const text = (value: string | Secret): string => (value instanceof Secret ? reveal(value) : value);
  return {
    url: typeof call.url === 'string' ? call.url : call.url(reveal),
    body: call.form ? new URLSearchParams(call.form.map(([name, value]): [string, string] => [name, text(value)])).toString() : undefined,
    headers: Object.fromEntries(Object.entries(call.headers ?? {}).map(([name, value]) => [name, text(value)])),
  };
}

/** A credential belongs to the origin it was configured for: a request anywhere else is refused unsent. */
function refuseOtherOrigin(method: string, url: string, allowed: string, options: ApiClientOptions): void {
  const target = URL.canParse(url) ? new URL(url) : undefined;
  if (target?.origin === allowed) return;
  const where = target ? redact(describeRefusedOrigin(target)) : 'an address that is not a URL';
  throw new SourceError(`${method} to ${where} refused: not ${allowed}, the origin ${options.credentialEnv ? `${options.credentialEnv} belongs to` : 'this source was configured for'}; nothing was sent there`, {
    hint: `an API answer (a next-page link or a redirect) pointed elsewhere; if the API really moved, pass its new address with --base-url / ${options.baseUrlEnv}`,
  });
}

/** An API's redirect is never followed (the request carries the credential): one line naming where it pointed. */
function redirectRefusal(method: string, url: string, status: number, location: string | null, allowed: string, options: ApiClientOptions): SourceError {
  const target = location !== null && URL.canParse(location, url) ? new URL(location, url) : undefined;
  const where = !target ? 'nowhere usable' : target.origin === allowed ? redact(recordableUrl(target.href)) : `another origin (${redact(describeRefusedOrigin(target))})`;
  return new SourceError(`${method} ${url} answered HTTP ${status}, a redirect to ${where}; not followed`, {
    hint: `etl does not follow an API's redirects with the credential; if the API really moved, pass its new address with --base-url / ${options.baseUrlEnv}`,
  });
}

function refusal(method: string, url: string, status: number, body: Buffer, options: ApiClientOptions): SourceError {
  const detail = body.subarray(0, 200).toString('utf8').replace(/\s+/g, ' ').trim();
  const hint =
    status === 401 || status === 403
      ? options.credentialEnv
        ? `check ${options.credentialEnv} (environment or .env in the working directory)`
        : 'the API refused the request'
      : status === 404
        ? `check the ids asked for, and --base-url / ${options.baseUrlEnv}`
        : 'the request was refused; see the answer above';
  return new SourceError(`${method} ${url} answered HTTP ${status}${detail ? `: ${redact(detail)}` : ''}`, { hint });
}

const SECRET_NAME = /token|key|secret|password|signature|auth/i;

/**
 * The URL as it may be recorded: query parameters with secret-like names dropped, and secret-like keys
 * dropped from JSON-valued parameters (Supermetrics sends its whole query, api_key included, as `json=`).
 */
export function recordableUrl(url: string): string {
  const parsed = new URL(url);
  parsed.username = '';
  parsed.password = '';
  for (const name of [...parsed.searchParams.keys()]) {
    if (SECRET_NAME.test(name)) {
      parsed.searchParams.delete(name);
      continue;
    }
    const value = parsed.searchParams.get(name)!;
    if (!value.startsWith('{')) continue;
    try {
      const object = JSON.parse(value) as Record<string, unknown>;
      for (const key of Object.keys(object)) if (SECRET_NAME.test(key)) delete object[key];
      parsed.searchParams.set(name, JSON.stringify(object));
    } catch {
      // not JSON after all: kept as it is, and redact() below still masks known secret values
    }
  }
  return redact(parsed.href);
}

/** Parses a body the API promised as JSON; anything else (an HTML error page, a cut-off body) is a source error. */
export function parseJsonBody(response: ApiResponse): unknown {
  try {
    return JSON.parse(response.body.toString('utf8'));
  } catch {
    const start = response.body.subarray(0, 60).toString('utf8').replace(/\s+/g, ' ');
    throw new SourceError(`${response.request.method} ${response.request.url} did not answer JSON (${response.body.length} bytes starting ${JSON.stringify(start)})`, {
      retriable: true,
      hint: 'nothing was written to the raw layer for it; try again later, or check --base-url',
    });
  }
}

/** Page-number pagination: the pages and their sizes for `total` items at most `pageSize` a page. */
export function pagesFor(total: number, pageSize: number): Array<{ page: number; size: number }> {
  const pages: Array<{ page: number; size: number }> = [];
  for (let page = 1, left = total; left > 0; page++, left -= pageSize) pages.push({ page, size: Math.min(pageSize, left) });
  return pages;
}

/**
 * A next-page URL as the API wrote it (`https://…`, `/page/2`, `?p=2`), resolved against the URL of the page
 * that named it, as a browser resolves a link. One place, so the rule for where a next URL may lead sits here too.
 */
export function resolveNextUrl(next: string, pageUrl: string): string {
  const resolved = URL.canParse(next, pageUrl) ? new URL(next, pageUrl) : undefined;
  if (!resolved || (resolved.protocol !== 'http:' && resolved.protocol !== 'https:')) {
    throw new SourceError(`pagination: the next page ${JSON.stringify(redact(next.slice(0, 200)))} named by ${recordableUrl(pageUrl)} is not an http(s) URL`, {
      hint: 'the API answered a next page etl cannot follow; check --base-url',
    });
  }
  return resolved.href;
}

/**
 * Cursor / next-URL pagination: fetches `first`, then each next URL the answer names (resolved against the
 * page's own URL), until none. A next URL seen before is a loop and ends at once; more than `maxPages` pages
 * ends too: both are errors rather than an endless extract.
 */
export async function followNext<T>(
  first: string | SecretUrl,
  fetchPage: (url: string | SecretUrl, index: number) => Promise<{ page: T; next: string | undefined }>,
  maxPages: number,
): Promise<T[]> {
  const firstShown = typeof first === 'string' ? first : first(shown);
  // The first URL holds its secrets by name; an API naming that page again writes their values in, so it is
  // compared as sent too (the comparison only: that form is neither kept nor shown).
  const isFirst = (url: string): boolean => url === firstShown || (typeof first !== 'string' && url === first(reveal));
  const pages: T[] = [];
  const seen = new Set<string>();
  let url: string | SecretUrl = first;
  let urlShown = firstShown;
  for (let index = 0; ; index++) {
    if (index >= maxPages) {
      throw new SourceError(`pagination did not end: more than ${maxPages} pages (${recordableUrl(urlShown)})`, { hint: 'raise --max-pages if the API really has that many, or ask for less at a time' });
    }
    const { page, next } = await fetchPage(url, index);
    pages.push(page);
    if (next === undefined) return pages;
    seen.add(urlShown);
    const nextUrl = resolveNextUrl(next, urlShown);
    if (seen.has(nextUrl) || isFirst(nextUrl)) {
      throw new SourceError(`pagination did not end: the next page repeats an earlier one (${recordableUrl(nextUrl)})`, { hint: 'the API names a page it already served as the next one: a fault of the API, or of --base-url' });
    }
    url = urlShown = nextUrl;
  }
}
