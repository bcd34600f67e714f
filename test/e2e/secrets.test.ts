import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapWithLimit } from '../../src/core/concurrency.js';
import { pivotedAnswer, pivotedRows } from '../fixtures/supermetrics/answers.js';
import { json, startApiServer, type ApiServer } from '../helpers/api-server.js';
import { useApiTestbed } from '../helpers/api-testbed.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';

/**
 * Issue 19 items 1 and 2, end to end through the built CLI: a credential goes to the origin it was
 * configured for and nowhere else (a next-page link or a redirect to another host, port or scheme, or to a
 * metadata address, is refused before anything is sent there), and a failing run with an odd key leaves
 * that key nowhere: not in the data dir (run manifest, log file), not on stdout or stderr, not in the alert.
 */

/** A second server, on another port: whatever reaches it is a credential that left its origin. */
let elsewhere: ApiServer;
/** Alert webhook: POST /hook is delivered; POST /away redirects (307) to `elsewhere`, /again to /hook on its own origin. */
let hook: Server;
let hookUrl: string;
const alerts: Array<{ path: string; body: string }> = [];

/**
 * The Supermetrics look-alike. The base URL's first path segment says how it answers:
 * `401` a refusal that echoes the key; `500` a server error; `next` a page whose next link names
 * the target nextTargets holds for the second segment (the key in it, as a hostile API would); `redirect` a
 * 307 to `elsewhere` with the key in it. The second segment tags a run, so that runs at the same time can
 * each find their own requests (the CLI is spawned dozens of times here; one after the other took 90 s).
 */
const nextTargets = new Map<string, string>();
/** How many CLI runs of this file go at once: most of a run is waiting (process start, a retry's backoff). */
const AT_ONCE = 4;
const bed = useApiTestbed('secrets', (request) => {
  const [, mode, tag] = request.url.pathname.split('/');
  const nextTarget = nextTargets.get(tag ?? '') ?? '';
  const json_ = request.url.searchParams.get('json');
  const query = json_ ? (JSON.parse(json_) as { api_key?: string; start_date: string; end_date: string }) : undefined;
  const echo = `key ${query?.api_key ?? ''} (${encodeURIComponent(query?.api_key ?? '')}) is not valid`;
  if (mode === '401') return json(401, { error: { message: echo } });
  if (mode === '500') return json(500, { error: echo });
  if (mode === 'redirect') return json(307, { error: echo }, { headers: { location: `${elsewhere.url}/steal?json=${encodeURIComponent(json_ ?? '')}` } });
  if (mode === 'next' && query) return json(200, pivotedAnswer(pivotedRows(query.start_date, query.end_date, 0).slice(0, 2), nextTarget.replace('JSON', encodeURIComponent(json_!))));
  return json(404, { error: 'not found' });
});

beforeAll(async () => {
  elsewhere = await startApiServer(() => json(200, { stolen: true }));
  hook = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      alerts.push({ path: request.url ?? '', body });
      if (request.url === '/away') response.writeHead(307, { location: `${elsewhere.url}/hook` });
      else if (request.url === '/again') response.writeHead(308, { location: '/hook' });
      response.end('ok');
    });
  });
  hook.listen(0, '127.0.0.1');
  await once(hook, 'listening');
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}`;
  await writeFile(path.join(bed.work, 'query.json'), JSON.stringify({ ds_id: 'GA', fields: ['Date', 'profile', 'segment', 'Sessions'], max_rows: 1000 }));
});
afterAll(async () => {
  hook?.close();
  await elsewhere?.close();
});

let runs = 0;
/**
 * A failing run against `/<mode>/<tag>`; its alert goes to `/hook/<tag>`. In this process when `inProcess`: each
 * key's runs are one session of runCliInProcess, which starts knowing no secret, as a new process does.
 */
async function supermetricsRun(key: string, mode: string, tag: string, inProcess = false): Promise<CliResult & { dataDir: string }> {
  const dataDir = path.join(bed.work, `run-${++runs}`);
  await mkdir(dataDir, { recursive: true });
  const args = ['--debug', '--log-file', path.join(dataDir, 'etl.log'), 'run', 'supermetrics', 'query', '--query', 'query.json', '--from', '2024-01-01', '--to', '2024-01-02'];
  const result = await (inProcess ? runCliInProcess : runCli)([...args, '--base-url', `${bed.server.url}/${mode}/${tag}`, '--data-dir', dataDir, '--retries', '1', '--rate-limit', '0'], {
    cwd: bed.work,
    env: { SUPERMETRICS_API_KEY: key, ETL_ALERT_URL: `${hookUrl}/hook/${tag}` },
  });
  return { ...result, dataDir };
}

/** The requests of the run(s) tagged `tag`, in the order they came. */
const requestsOf = (tag: string) => bed.server.requests.filter((r) => r.url.pathname.split('/')[2] === tag);

/** Every file below `dir`, as text. */
async function filesBelow(dir: string): Promise<Array<{ file: string; text: string }>> {
  const names = await readdir(dir, { recursive: true });
  const files = await Promise.all(names.map(async (name) => ({ file: name, text: await readFile(path.join(dir, name), 'utf8').catch(() => '') })));
  return files.filter((f) => f.text !== '');
}

const errorLines = (stderr: string): string[] => stderr.split('\n').filter((line) => line.startsWith('etl: '));

describe('a credential belongs to the origin it was configured for', () => {
  const port = () => new URL(bed.server.url).port;
  const foreign = () => [
    ['another host name', `http://localhost:${port()}/next/page-2?json=JSON`, `http://localhost:${port()}`],
    ['another port', `${elsewhere.url}/steal?json=JSON`, elsewhere.url],
    ['another scheme', `https://127.0.0.1:${port()}/next/page-2?json=JSON`, `https://127.0.0.1:${port()}`],
    ['the cloud metadata address', 'http://169.254.169.254/latest/meta-data/iam?json=JSON', 'http://169.254.169.254, a link-local or cloud metadata address'],
    ['the metadata address written as a number', 'http://2852039166/?json=JSON', 'http://169.254.169.254, a link-local or cloud metadata address'],
    ['an IPv6 link-local address', 'http://[fe80::1]/?json=JSON', 'http://[fe80::1], a link-local or cloud metadata address'],
    ['the Google metadata name', 'http://metadata.google.internal/computeMetadata/v1/?json=JSON', 'http://metadata.google.internal, a link-local or cloud metadata address'],
    ['the Alibaba metadata address', 'http://100.100.100.200/latest/meta-data/?json=JSON', 'http://100.100.100.200, a link-local or cloud metadata address'],
    ['the AWS IPv6 metadata address', 'http://[fd00:ec2::254]/latest/?json=JSON', 'http://[fd00:ec2::254], a link-local or cloud metadata address'],
  ];

  it('supermetrics: a next-page link to another origin or a metadata address is refused with one line (exit 3) before anything is sent there', async () => {
    const key = 'sm-key-origin-5e1d';
    elsewhere.requests.length = 0;
    const cases = foreign().map(([what, target, shown], index) => ({ what: what!, shown: shown!, tag: `origin${index}`, target: target! }));
    for (const { tag, target } of cases) nextTargets.set(tag, target);
    // The first case's run is a process of its own; the others run in this process.
    const results = await mapWithLimit(cases, AT_ONCE, ({ tag }, index) => supermetricsRun(key, 'next', tag, index > 0));
    for (const [index, { what, shown, tag }] of cases.entries()) {
      const result = results[index]!;
      expect(result.code, what).toBe(3);
      expect(errorLines(result.stderr), what).toEqual([
        `etl: source error: GET to ${shown} refused: not ${bed.server.url}, the origin SUPERMETRICS_API_KEY belongs to; nothing was sent there (an API answer (a next-page link or a redirect) pointed elsewhere; if the API really moved, pass its new address with --base-url / SUPERMETRICS_BASE_URL)`,
      ]);
      // The first page only, on the configured origin; nothing anywhere else.
      expect(requestsOf(tag).map((r) => r.url.pathname), what).toEqual([`/next/${tag}/enterprise/v2/query/data/json`]);
      expect(elsewhere.requests, what).toEqual([]);
      expect(result.stderr + result.stdout).not.toContain(key);
    }
    // Every request of these runs was one of theirs: none went to the origin untagged.
    expect(bed.server.requests).toHaveLength(cases.length);
  });

  it('supermetrics: a redirect to another origin is not followed; the answer is named in one line', async () => {
    const result = await supermetricsRun('sm-key-redirect-77ab', 'redirect', 'away');
    expect(result.code).toBe(3);
    expect(errorLines(result.stderr)).toEqual([expect.stringMatching(new RegExp(`^etl: source error: GET ${bed.server.url}/redirect/away/enterprise/\\S+ answered HTTP 307, a redirect to another origin \\(${elsewhere.url}\\); not followed \\(`))]);
    expect(elsewhere.requests).toEqual([]);
    expect(result.stderr).not.toContain('sm-key-redirect-77ab');
  });

  it('random-person and climatempo: a redirect to another origin is not followed, with one line (exit 3)', async () => {
    const api = await startApiServer(() => ({ status: 302, body: '', headers: { location: `${elsewhere.url}/steal` } }));
    try {
      elsewhere.requests.length = 0;
      const token = 'ct-token-redirect-19c4';
      const [people, weather] = await Promise.all([
        runCli(['extract', 'random-person', 'people', '--count', '3', '--seed', 'x', '--base-url', api.url, '--data-dir', path.join(bed.dataDir, 'people'), '--retries', '0']),
        runCli(['extract', 'climatempo', 'forecast-daily', '--city', '3477', '--base-url', api.url, '--data-dir', path.join(bed.dataDir, 'weather'), '--retries', '0'], { env: { CLIMATEMPO_TOKEN: token } }),
      ]);
      expect(people.code).toBe(3);
      expect(errorLines(people.stderr)).toEqual([expect.stringMatching(new RegExp(`^etl: source error: GET ${api.url}/api/\\?results=3&seed=x&page=1 answered HTTP 302, a redirect to another origin \\(${elsewhere.url}\\); not followed`))]);

      expect(weather.code).toBe(3);
      expect(errorLines(weather.stderr)).toEqual([expect.stringMatching(new RegExp(`^etl: source error: GET ${api.url}/api/v1/forecast/locale/3477/days/15 answered HTTP 302, a redirect to another origin \\(${elsewhere.url}\\); not followed`))]);
      expect(weather.stderr + weather.stdout).not.toContain(token);
      expect(api.requests.filter((r) => r.url.pathname.includes('forecast')).map((r) => r.url.searchParams.get('token'))).toEqual([token]);
      expect(elsewhere.requests).toEqual([]);
    } finally {
      await api.close();
    }
  });

  it('alerts: a 307/308 from the webhook is followed on its own origin only; a redirect to another host is not followed with the body', async () => {
    elsewhere.requests.length = 0;
    alerts.length = 0;
    const away = await runCli(['run', 'supermetrics', 'query', '--query', 'query.json', '--from', '2024-01-01', '--to', '2024-01-01', '--base-url', `${bed.server.url}/500`, '--data-dir', path.join(bed.dataDir, 'away'), '--retries', '0', '--alert-url', `${hookUrl}/away`], {
      cwd: bed.work,
      env: { SUPERMETRICS_API_KEY: 'sm-key-alert-0c3f' },
    });
    expect(away.code).toBe(3);
    expect(alerts.map((a) => a.path)).toEqual(['/away']);
    expect(elsewhere.requests).toEqual([]);
    expect(away.stderr).toMatch(new RegExp(`warn: alert not delivered to 127\\.0\\.0\\.1:\\d+: HTTP 307, a redirect to another origin \\(${elsewhere.url}\\); not followed; the run's result stands`));

    alerts.length = 0;
    // The first alert run above is the process; this one goes through main in-process, the same alert code.
    const again = await runCliInProcess(['run', 'supermetrics', 'query', '--query', 'query.json', '--from', '2024-01-01', '--to', '2024-01-01', '--base-url', `${bed.server.url}/500`, '--data-dir', path.join(bed.dataDir, 'again'), '--retries', '0', '--alert-url', `${hookUrl}/again`], {
      cwd: bed.work,
      env: { SUPERMETRICS_API_KEY: 'sm-key-alert-0c3f' },
    });
    expect(again.code).toBe(3);
    expect(alerts.map((a) => a.path)).toEqual(['/again', '/hook']);
    expect(JSON.parse(alerts[1]!.body)).toMatchObject({ status: 'failed', exit_code: 3 });
    expect(again.stderr).not.toMatch(/alert not delivered/);
  });
});

/** Keys made of every printable ASCII class, and keys of 1-3 characters. */
const ODD_KEYS = [
  `k~!'() x`, // the characters encodeURIComponent leaves alone but a form encodes, and a space
  `q"uo\\te\\u0041"`, // JSON's escapes
  '%41%25+p&a=e;#h?q/@', // URL syntax, an escape-looking sequence
  '<{[|^`$,:*]}>', // the rest of the punctuation
  'AZaz09_-.~', // letters, digits and the unreserved marks
  ' \tsp ace ', // leading, inner and trailing white space (a tab too)
  'Zq', // short: a letter pair
  '~!', // short: marks only
  `'(`,
  '|',
];

describe('an odd key is found nowhere after a failing run', () => {
  /**
   * Each key's three runs (a refused key echoed back, a server error, a next link to another origin), AT_ONCE runs at
   * a time; in this process, one key's runs at a time (their environments differ).
   */
  const MODES = ['401', '500', 'next'] as const;
  interface KeyRuns {
    results: Array<CliResult & { dataDir: string }>;
    /** The requests the origin saw from this key's runs. */
    requests: typeof bed.server.requests;
    alerts: typeof alerts;
  }
  const byKey: KeyRuns[] = [];
  let elsewhereRequests: typeof elsewhere.requests = [];
  beforeAll(async () => {
    alerts.length = 0;
    elsewhere.requests.length = 0;
    bed.server.requests.length = 0;
    const runs = ODD_KEYS.flatMap((key, index) => MODES.map((mode) => ({ key, mode, tag: `key${index}` })));
    for (const { tag } of runs) nextTargets.set(tag, `${elsewhere.url}/steal?json=JSON`);
    // The first key's runs are processes of their own; the others run in this process (0.3-1 CPU s less each).
    const results = await mapWithLimit(runs, AT_ONCE, ({ key, mode, tag }) => supermetricsRun(key, mode, tag, tag !== 'key0'));
    for (const [index] of ODD_KEYS.entries()) {
      const tag = `key${index}`;
      byKey.push({
        results: results.slice(index * MODES.length, (index + 1) * MODES.length),
        requests: requestsOf(tag),
        alerts: alerts.filter((a) => a.path === `/hook/${tag}`),
      });
    }
    // Every request and every alert belongs to one of the keys' runs.
    expect(byKey.flatMap((k) => k.requests)).toHaveLength(bed.server.requests.length);
    expect(byKey.flatMap((k) => k.alerts)).toHaveLength(alerts.length);
    elsewhereRequests = [...elsewhere.requests];
  });

  it.each(ODD_KEYS.map((key, index) => [key, index] as const))('key %j: a refused key echoed back (401), a server error (500) and a next link to another origin', async (key, index) => {
    const { results, requests, alerts: delivered } = byKey[index]!;
    expect(results.map((r) => r.code)).toEqual([3, 3, 3]);
    // The key was sent, once per request, to the configured origin only: 401 once, 500 twice (--retries 1), the first page of next.
    const sent = requests.map((r) => JSON.parse(r.url.searchParams.get('json')!).api_key);
    expect(sent).toEqual([key, key, key, key]);
    expect(elsewhereRequests).toEqual([]);
    expect(delivered).toHaveLength(3);
    const seen: Array<{ where: string; text: string }> = [];
    for (const result of results) {
      seen.push({ where: 'stdout', text: result.stdout }, { where: 'stderr', text: result.stderr });
      for (const file of await filesBelow(result.dataDir)) seen.push({ where: file.file, text: file.text });
    }
    for (const alert of delivered) seen.push({ where: 'alert', text: alert.body });
    expect(seen.some((s) => s.where.startsWith('runs/'))).toBe(true);
    expect(seen.some((s) => s.where === 'etl.log')).toBe(true);
    const spellings = new Set([key, encodeURIComponent(key), new URLSearchParams([['k', key]]).toString().slice(2), JSON.stringify(key).slice(1, -1)]);
    if (key.trim().length >= 2) spellings.add(key.trim());
    for (const spelling of spellings) {
      const found = seen.filter((s) => s.text.includes(spelling)).map((s) => `${s.where}: …${s.text.slice(Math.max(0, s.text.indexOf(spelling) - 60), s.text.indexOf(spelling) + 60)}…`);
      expect(found, `${JSON.stringify(spelling)} found`).toEqual([]);
    }
    // Each failure is still told, with the key's name where a message needs it.
    expect(errorLines(results[0]!.stderr)[0]).toMatch(/answered HTTP 401: .*REDACTED.* \(check SUPERMETRICS_API_KEY/);
    expect(errorLines(results[1]!.stderr)[0]).toMatch(/answered HTTP 500 \(try again later\)$/);
    expect(errorLines(results[2]!.stderr)[0]).toMatch(/^etl: source error: GET to http:\/\/127\.0\.0\.1:\d+ refused/);
  });
});
