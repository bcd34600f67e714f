import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pivotedAnswer, pivotedRows } from '../fixtures/supermetrics/answers.js';
import { json, startApiServer, type ApiServer } from '../helpers/api-server.js';
import { useApiTestbed } from '../helpers/api-testbed.js';
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
 * nextTarget (the key in it, as a hostile API would); `redirect` a 307 to `elsewhere` with the key in it.
 */
let nextTarget = '';
const bed = useApiTestbed('secrets', (request) => {
  const [, mode] = request.url.pathname.split('/');
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
async function supermetricsRun(key: string, mode: string, extra: string[] = []): Promise<CliResult & { dataDir: string }> {
  const dataDir = path.join(bed.dataDir, `run-${++runs}`);
  await mkdir(dataDir, { recursive: true });
  const args = ['--debug', '--log-file', path.join(dataDir, 'etl.log'), 'run', 'supermetrics', 'query', '--query', 'query.json', '--from', '2024-01-01', '--to', '2024-01-02'];
  const result = await runCli([...args, '--base-url', `${bed.server.url}/${mode}`, '--data-dir', dataDir, '--retries', '1', '--rate-limit', '0', ...extra], {
    cwd: bed.work,
    env: { SUPERMETRICS_API_KEY: key, ETL_ALERT_URL: `${hookUrl}/hook` },
  });
  return { ...result, dataDir };
}

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
    for (const [what, target, shown] of foreign()) {
      nextTarget = target!;
      bed.server.requests.length = 0;
      elsewhere.requests.length = 0;
      const result = await supermetricsRun(key, 'next');
      expect(result.code, what).toBe(3);
      expect(errorLines(result.stderr), what).toEqual([
        `etl: source error: GET to ${shown} refused: not ${bed.server.url}, the origin SUPERMETRICS_API_KEY belongs to; nothing was sent there (an API answer (a next-page link or a redirect) pointed elsewhere; if the API really moved, pass its new address with --base-url / SUPERMETRICS_BASE_URL)`,
      ]);
      // The first page only, on the configured origin; nothing anywhere else.
      expect(bed.server.requests.map((r) => r.url.pathname), what).toEqual(['/next/enterprise/v2/query/data/json']);
      expect(elsewhere.requests, what).toEqual([]);
      expect(result.stderr + result.stdout).not.toContain(key);
    }
  });

  it('supermetrics: a redirect to another origin is not followed; the answer is named in one line', async () => {
    const result = await supermetricsRun('sm-key-redirect-77ab', 'redirect');
    expect(result.code).toBe(3);
    expect(errorLines(result.stderr)).toEqual([expect.stringMatching(new RegExp(`^etl: source error: GET ${bed.server.url}/redirect/enterprise/\\S+ answered HTTP 307, a redirect to another origin \\(${elsewhere.url}\\); not followed \\(`))]);
    expect(elsewhere.requests).toEqual([]);
    expect(result.stderr).not.toContain('sm-key-redirect-77ab');
  });

  it('random-person and climatempo: a redirect to another origin is not followed, with one line (exit 3)', async () => {
    const api = await startApiServer(() => ({ status: 302, body: '', headers: { location: `${elsewhere.url}/steal` } }));
    try {
      elsewhere.requests.length = 0;
      const people = await runCli(['extract', 'random-person', 'people', '--count', '3', '--seed', 'x', '--base-url', api.url, '--data-dir', path.join(bed.dataDir, 'people'), '--retries', '0']);
      expect(people.code).toBe(3);
      expect(errorLines(people.stderr)).toEqual([expect.stringMatching(new RegExp(`^etl: source error: GET ${api.url}/api/\\?results=3&seed=x&page=1 answered HTTP 302, a redirect to another origin \\(${elsewhere.url}\\); not followed`))]);

      const token = 'ct-token-redirect-19c4';
      const weather = await runCli(['extract', 'climatempo', 'forecast-daily', '--city', '3477', '--base-url', api.url, '--data-dir', path.join(bed.dataDir, 'weather'), '--retries', '0'], { env: { CLIMATEMPO_TOKEN: token } });
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
    const again = await runCli(['run', 'supermetrics', 'query', '--query', 'query.json', '--from', '2024-01-01', '--to', '2024-01-01', '--base-url', `${bed.server.url}/500`, '--data-dir', path.join(bed.dataDir, 'again'), '--retries', '0', '--alert-url', `${hookUrl}/again`], {
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
  it.each(ODD_KEYS)('key %j: a refused key echoed back (401), a server error (500) and a next link to another origin', async (key) => {
    alerts.length = 0;
    elsewhere.requests.length = 0;
    nextTarget = `${elsewhere.url}/steal?json=JSON`;
    const results = [await supermetricsRun(key, '401'), await supermetricsRun(key, '500'), await supermetricsRun(key, 'next')];
    expect(results.map((r) => r.code)).toEqual([3, 3, 3]);
    // The key was sent, once per request, to the configured origin only.
    const sent = bed.server.requests.slice(-4).map((r) => JSON.parse(r.url.searchParams.get('json')!).api_key);
    expect(sent).toEqual([key, key, key, key]);
    expect(elsewhere.requests).toEqual([]);
    expect(alerts).toHaveLength(3);
    const seen: Array<{ where: string; text: string }> = [];
    for (const result of results) {
      seen.push({ where: 'stdout', text: result.stdout }, { where: 'stderr', text: result.stderr });
      for (const file of await filesBelow(result.dataDir)) seen.push({ where: file.file, text: file.text });
    }
    for (const alert of alerts) seen.push({ where: 'alert', text: alert.body });
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
