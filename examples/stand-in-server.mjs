#!/usr/bin/env node
/**
 * A stand-in for the three JSON APIs etl reads (randomuser.me, ClimaTempo, Supermetrics), so each source can be
 * tried end to end with no token and no network: it serves the answers recorded in examples/stand-in/. Node only,
 * no dependencies.
 *
 *   node examples/stand-in-server.mjs [port]        # default 8787 (or STAND_IN_PORT); 127.0.0.1 only
 *
 * Point each source at its own folder with --base-url:
 *   http://127.0.0.1:8787/random-person   GET api/?results=&seed=&page=        the recorded people (at most 5)
 *   http://127.0.0.1:8787/climatempo      GET api/v1/forecast/locale/3477/hours/72 and /days/15, api/v1/locale/city
 *   http://127.0.0.1:8787/supermetrics    GET enterprise/v2/query/data/json?json=  the recorded rows between the
 *                                         query's start_date and end_date, 20 a page, meta.paginate.next to the rest
 *
 * The token and API key may be anything (the stand-in only checks one is sent, as the real APIs would refuse none).
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const RECORDED = path.join(path.dirname(fileURLToPath(import.meta.url)), 'stand-in');
const PAGE_ROWS = 20;
const recorded = (file) => JSON.parse(readFileSync(path.join(RECORDED, file), 'utf8'));

const routes = [
  [/^\/random-person\/api\/?$/, randomPerson],
  [/^\/climatempo\/api\/v1\/forecast\/locale\/(\d+)\/(hours\/72|days\/15)$/, climatempoForecast],
  [/^\/climatempo\/api\/v1\/locale\/city$/, climatempoCities],
  [/^\/supermetrics\/enterprise\/v2\/query\/data\/json$/, supermetrics],
];

function randomPerson(url) {
  const answer = recorded('random-person/people.json');
  const results = Math.max(1, Number(url.searchParams.get('results') ?? 1));
  const page = Number(url.searchParams.get('page') ?? 1);
  // One recorded page: later pages are empty, as a sample of five people ends there.
  const people = page === 1 ? answer.results.slice(0, results) : [];
  return [200, { results: people, info: { ...answer.info, seed: url.searchParams.get('seed') ?? answer.info.seed, results: people.length, page } }];
}

function climatempoForecast(url, [, city, span]) {
  if (!url.searchParams.get('token')) return [401, { error: true, detail: 'Invalid token' }];
  try {
    return [200, recorded(`climatempo/forecast-${span === 'hours/72' ? 'hours' : 'days'}-${city}.json`)];
  } catch {
    return [404, { error: true, detail: `the stand-in has no recorded forecast for locale ${city}: try 3477 (São Paulo)` }];
  }
}

function climatempoCities(url) {
  if (!url.searchParams.get('token')) return [401, { error: true, detail: 'Invalid token' }];
  return [200, recorded('climatempo/cities.json')];
}

function supermetrics(url, _match, host) {
  let query;
  try {
    query = JSON.parse(url.searchParams.get('json') ?? '');
  } catch {
    return [400, { error: { code: 'INVALID_JSON', message: 'json= is not JSON' } }];
  }
  if (!query.api_key) return [401, { error: { code: 'AUTH_REQUIRED', message: 'api_key is missing' } }];
  const answer = recorded('supermetrics/query-answer.json');
  // The recorded rows of the period asked for, as the API answers a chunk; date is the first field.
  const rows = answer.data.filter(([date]) => (!query.start_date || date >= query.start_date) && (!query.end_date || date <= query.end_date));
  const offset = Number(url.searchParams.get('offset') ?? 0);
  const next = offset + PAGE_ROWS < rows.length ? new URL(`${url.pathname}?${new URLSearchParams({ json: url.searchParams.get('json'), offset: String(offset + PAGE_ROWS) })}`, `http://${host}`).href : undefined;
  const meta = { ...answer.meta, ...(next ? { paginate: { next } } : {}) };
  return [200, { ...answer, meta, data: rows.slice(offset, offset + PAGE_ROWS), paging: { total_results: rows.length } }];
}

const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://stand-in');
  let status = 404;
  let body = { error: true, detail: `the stand-in serves /random-person, /climatempo and /supermetrics; not ${url.pathname}` };
  for (const [pattern, answer] of routes) {
    const match = pattern.exec(url.pathname);
    if (match && request.method === 'GET') [status, body] = answer(url, match, request.headers.host);
  }
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  response.end(JSON.stringify(body));
  // The query string is left out: it carries the token or API key.
  console.log(`${request.method} ${url.pathname} ${status}`);
});

const port = Number(process.argv[2] ?? process.env.STAND_IN_PORT ?? 8787);
server.listen(port, '127.0.0.1', () => console.log(`stand-in for random-person, climatempo and supermetrics on http://127.0.0.1:${server.address().port} (answers from ${RECORDED})`));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
