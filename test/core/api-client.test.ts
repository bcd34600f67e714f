import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient, followNext, pagesFor, parseJsonBody, recordableUrl, resolveNextUrl, type ApiClient } from '../../src/core/api-client.js';
import { SourceError } from '../../src/core/errors.js';
import { Secret, reveal, type Reveal, type SecretUrl } from '../../src/core/secret.js';
import { json, startApiServer, type ApiServer } from '../helpers/api-server.js';
import { FIXED_NOW, capturedIO, type CapturedIO } from '../helpers/source-io.js';

let server: ApiServer;
let io: CapturedIO;
beforeAll(async () => {
  server = await startApiServer((request) => (request.url.pathname === '/echo' ? json(200, { method: request.method, body: request.body }) : json(404, { error: 'not found' })));
  io = capturedIO({ retries: 0 });
});
afterAll(async () => {
  await io.close();
  await server.close();
});

const client = (options: { credentialEnv?: string; rateLimit?: number } = {}): ApiClient =>
  createApiClient({ http: io.http, log: io.log, now: io.now, rateLimit: options.rateLimit ?? 0, credentialEnv: options.credentialEnv, baseUrlEnv: 'DEMO_BASE_URL' });

describe('createApiClient', () => {
  it('sends GET by default and a form as application/x-www-form-urlencoded; records the request without secrets', async () => {
    const before = server.requests.length;
    const got = await client().send({ url: `${server.url}/echo?token=t0k3n-value&page=2` });
    expect(got).toEqual({ status: 200, body: Buffer.from(JSON.stringify({ method: 'GET', body: '' })), request: { method: 'GET', url: `${server.url}/echo?page=2` }, fetchedAt: FIXED_NOW.toISOString() });

    const put = await client().send({ method: 'PUT', url: `${server.url}/echo`, form: [['localeId[]', '3477'], ['note', 'a b']], headers: { 'x-extra': 'yes' } });
    const sent = server.requests.slice(before);
    expect(sent[0]!.headers['content-type']).toBeUndefined();
    expect(sent[1]).toMatchObject({ method: 'PUT', body: 'localeId%5B%5D=3477&note=a+b', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-extra': 'yes', accept: 'application/json' } });
    expect(put.request).toEqual({ method: 'PUT', url: `${server.url}/echo`, body: 'localeId%5B%5D=3477&note=a+b' });
  });

  it('turns a refusal into a source error whose hint says what to check: the credential on 401/403, the ids and base URL on 404', async () => {
    server.queue('/r', json(401, { error: 'invalid\n  token' }), { status: 403, body: '' }, json(404, { error: 'no city' }), json(400, { error: 'bad' }), json(403, {}), { status: 300, body: 'pick one\r\n' });
    const withKey = client({ credentialEnv: 'DEMO_TOKEN' });
    const refused = async (c: ApiClient) => c.send({ url: `${server.url}/r?key=k3y-value` }).then(() => undefined, (error: unknown) => error as SourceError);

    const unauthorized = await refused(withKey);
    expect(unauthorized).toBeInstanceOf(SourceError);
    expect(unauthorized).toMatchObject({ retriable: false, hint: 'check DEMO_TOKEN (environment or .env in the working directory)' });
    expect(unauthorized!.message).toBe(`GET ${server.url}/r answered HTTP 401: {"error":"invalid\\n token"}`);
    const forbidden = await refused(withKey);
    expect(forbidden!.message).toBe(`GET ${server.url}/r answered HTTP 403`);
    expect(forbidden!.hint).toBe('check DEMO_TOKEN (environment or .env in the working directory)');
    expect((await refused(withKey))!.hint).toBe('check the ids asked for, and --base-url / DEMO_BASE_URL');
    expect((await refused(withKey))!.hint).toBe('the request was refused; see the answer above');
    expect((await refused(client()))!.hint).toBe('the API refused the request');
    // 300 is not an answer either (redirects are not followed); the body's trailing line break is not part of the message.
    expect((await refused(client()))!.message).toBe(`GET ${server.url}/r answered HTTP 300: pick one`);
  });

  it('returns a status the caller said it handles itself', async () => {
    server.queue('/r', json(400, { error: 'locale not registered' }));
    const answer = await client().send({ url: `${server.url}/r`, allowStatus: [400, 403] });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body.toString())).toEqual({ error: 'locale not registered' });
  });

  it('with a rate limit, spaces requests to one host at least 1/rate seconds apart', async () => {
    // A lower bound only (what the limit guarantees), wide enough that requests alone never reach it.
    const limited = client({ rateLimit: 4 });
    const started = Date.now();
    for (let i = 0; i < 3; i++) await limited.send({ url: `${server.url}/echo` });
    expect(Date.now() - started).toBeGreaterThanOrEqual(490);
  });
});

describe('recordableUrl', () => {
  it('drops credentials, secret-named parameters and secret-named keys inside JSON parameters', () => {
    const query = JSON.stringify({ ds_id: 'GA', api_key: 'k-123', start_date: '2024-01-01' });
    expect(recordableUrl(`https://u:p@api.test/q?json=${encodeURIComponent(query)}&token=abc&Auth=x&page=2`)).toBe(
      `https://api.test/q?json=${encodeURIComponent(JSON.stringify({ ds_id: 'GA', start_date: '2024-01-01' })).replace(/%20/g, '+')}&page=2`,
    );
    expect(recordableUrl('https://api.test/q?filter={not json&signature=s')).toBe('https://api.test/q?filter=%7Bnot+json');
    // Only values that look like a JSON object are rewritten: a version or a list stays as it was written.
    expect(recordableUrl('https://api.test/q?v=1.0&ids=[1, 2]&n=1e3')).toBe('https://api.test/q?v=1.0&ids=[1,%202]&n=1e3');
  });
});

describe('parseJsonBody', () => {
  it('parses JSON, and calls anything else a retriable source error that shows how the body starts', () => {
    const response = (body: string) => ({ status: 200, body: Buffer.from(body), request: { method: 'GET', url: 'http://api.test/x' }, fetchedAt: '' });
    expect(parseJsonBody(response('{"a":[1]}'))).toEqual({ a: [1] });
    const html = `<html>\n  <body>${'x'.repeat(100)}</body></html>`;
    let thrown: unknown;
    try {
      parseJsonBody(response(html));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SourceError);
    expect(thrown).toMatchObject({ retriable: true, hint: 'nothing was written to the raw layer for it; try again later, or check --base-url' });
    expect((thrown as Error).message).toBe(`GET http://api.test/x did not answer JSON (${html.length} bytes starting "<html> <body>${'x'.repeat(45)}")`);
  });
});

describe('pagination', () => {
  it('pagesFor splits a total into full pages and a last partial one', () => {
    expect(pagesFor(12_000, 5000)).toEqual([{ page: 1, size: 5000 }, { page: 2, size: 5000 }, { page: 3, size: 2000 }]);
    expect(pagesFor(5000, 5000)).toEqual([{ page: 1, size: 5000 }]);
    expect(pagesFor(1, 5000)).toEqual([{ page: 1, size: 1 }]);
  });

  it('followNext follows next URLs until none, and ends a loop or a runaway with an error', async () => {
    const chain: Record<string, string | undefined> = { 'http://a.test/1': 'http://a.test/2', 'http://a.test/2': 'http://a.test/3?key=s3cr3t', 'http://a.test/3?key=s3cr3t': undefined };
    const visited: Array<[string, number]> = [];
    const pages = await followNext('http://a.test/1', async (url, index) => {
      visited.push([url as string, index]);
      return { page: url, next: chain[url as string] };
    }, 100);
    expect(pages).toEqual(Object.keys(chain));
    expect(visited.map(([, index]) => index)).toEqual([0, 1, 2]);

    const loop = followNext('http://a.test/1', async (url) => ({ page: url, next: url === 'http://a.test/1' ? 'http://a.test/2?token=s3cr3t' : 'http://a.test/1' }), 100);
    await expect(loop).rejects.toThrow('pagination did not end: the next page repeats an earlier one (http://a.test/1)');
    const runaway = followNext('http://a.test/0?key=s3cr3t', async (url, index) => ({ page: url, next: `http://a.test/${index + 1}?key=s3cr3t` }), 3);
    await expect(runaway).rejects.toThrow('pagination did not end: more than 3 pages (http://a.test/3)');
    await expect(runaway).rejects.toHaveProperty('hint', 'raise --max-pages if the API really has that many, or ask for less at a time');
    await expect(followNext('http://a.test/0', async (url, index) => ({ page: url, next: index < 2 ? `http://a.test/${index + 1}` : undefined }), 3)).resolves.toHaveLength(3);
  });

  it('followNext: a first page holding a secret is fetched as built, and an API naming it again (key written in) is a loop at once', async () => {
    const key = new Secret('DEMO_KEY', 'l00p-k3y-value');
    const first = (r: Reveal) => `http://a.test/q?json=${encodeURIComponent(JSON.stringify({ api_key: r(key) }))}`;
    const fetched: Array<string | SecretUrl> = [];
    const loop = followNext(first, async (url, index) => {
      fetched.push(url);
      return { page: index, next: index === 0 ? '/q?page=2' : first(reveal) };
    }, 100);
    await expect(loop).rejects.toThrow('pagination did not end: the next page repeats an earlier one (http://a.test/q?json=%7B%7D)');
    expect(fetched).toEqual([first, 'http://a.test/q?page=2']);
  });

  it('resolveNextUrl reads a next URL against the page that named it, as a browser reads a link', () => {
    const page = 'http://a.test/api/v2/data?json=%7B%7D&page=1';
    expect(resolveNextUrl('http://a.test/api/v2/data?page=2', page)).toBe('http://a.test/api/v2/data?page=2');
    expect(resolveNextUrl('/page/2', page)).toBe('http://a.test/page/2');
    expect(resolveNextUrl('?p=2', page)).toBe('http://a.test/api/v2/data?p=2');
    expect(resolveNextUrl('next?p=2', page)).toBe('http://a.test/api/v2/next?p=2');
    expect(resolveNextUrl('//a.test/x', page)).toBe('http://a.test/x');
    for (const odd of ['http://[bad', 'javascript:alert(1)', 'ftp://a.test/2']) {
      expect(() => resolveNextUrl(odd, page)).toThrow(SourceError);
      expect(() => resolveNextUrl(odd, page)).toThrow(/^pagination: the next page ".*" named by http:\/\/a\.test\/api\/v2\/data\?json=%7B%7D&page=1 is not an http\(s\) URL$/);
    }
  });
});
