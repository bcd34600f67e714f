import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../core/log.js';
import { errorMessage } from '../core/errors.js';
import { findDatasets, type DatasetLocation } from './catalog.js';
import { columnsOf, describeDataset } from './describe-dataset.js';
import { openEngine, type Engine, type EngineLimits } from './engine.js';
import { chooseFormat, FORMATS, readPage, streamRows } from './formats.js';
import { HttpError, badRequest } from './http-error.js';
import { openApiDocument } from './openapi.js';
import { pinFiles } from './pinned-files.js';
import { buildRowsSql, encodeCursor, parseRowsQuery, type QueryLimits } from './rows-query.js';
import { seedAnswer } from './seed-route.js';
import { PAGE_CSP, renderPage } from './page.js';

export interface ServeOptions extends EngineLimits, QueryLimits {
  dataDir: string;
  host: string;
  port: number;
  /** Required as `Authorization: Bearer <token>` on every route but /healthz and the page; undefined: no auth. */
  token: string | undefined;
  /** The one origin allowed to call from a browser (CORS); undefined: none. */
  corsOrigin: string | undefined;
  log: Logger;
}

export interface RunningServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const engine = await openEngine(options);
  const server = createServer((request, response) => {
    handle(request, response, options, engine).catch((error: unknown) => answerError(response, error, options.log));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    server,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      engine.close();
    },
  };
}

const DATASET_ROUTE = /^\/v1\/datasets\/([^/]+)\/([^/]+)(\/rows)?$/;
const SEED_ROUTE = /^\/year\/([^/]+)\/geo_code\/([^/]+)$/;

async function handle(request: IncomingMessage, response: ServerResponse, options: ServeOptions, engine: Engine): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (options.corsOrigin) {
    response.setHeader('Access-Control-Allow-Origin', options.corsOrigin);
    response.setHeader('Vary', 'Origin');
  }
  if (request.method === 'OPTIONS' && options.corsOrigin) {
    response.writeHead(204, { 'Access-Control-Allow-Methods': 'GET', 'Access-Control-Allow-Headers': 'Authorization, Accept', 'Access-Control-Max-Age': '600' });
    response.end();
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') throw new HttpError(405, `${request.method} is not served: this API is read-only (GET)`, { Allow: 'GET, HEAD' });
  const route = url.pathname;
  // The health check and the page's HTML and script hold no data: a browser loads them without a token, and
  // the page sends the token it is given with each API call.
  if (route === '/healthz') return answerJson(response, 200, { status: 'ok' });
  if (route === '/' || route === '/index.html') return answerText(response, 200, 'text/html; charset=utf-8', renderPage(options.maxJsonRows), { 'Content-Security-Policy': PAGE_CSP });
  checkToken(request, options.token);

  if (route === '/v1/datasets') {
    const datasets = await findDatasets(options.dataDir);
    return answerJson(response, 200, { datasets: await Promise.all(datasets.map((d) => describeDataset(engine, options.dataDir, d))) });
  }
  if (route === '/openapi.json') {
    const datasets = await Promise.all((await findDatasets(options.dataDir)).map((d) => describeDataset(engine, options.dataDir, d)));
    return answerJson(response, 200, openApiDocument(datasets, options));
  }
  const seed = SEED_ROUTE.exec(route);
  if (seed) {
    const location = await locate(options.dataDir, 'ons', 'monthly-deaths');
    return answerJson(response, 200, await seedAnswer(engine, location, decodePart(seed[1]!), decodePart(seed[2]!)));
  }
  const dataset = DATASET_ROUTE.exec(route);
  if (dataset) {
    const location = await locate(options.dataDir, decodePart(dataset[1]!), decodePart(dataset[2]!));
    if (!dataset[3]) return answerJson(response, 200, await describeDataset(engine, options.dataDir, location));
    return answerRows(request, response, url, location, options, engine);
  }
  throw new HttpError(404, `no route ${route}; see /openapi.json`);
}

function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw badRequest(`${JSON.stringify(part)} is not a well-formed URL path part`);
  }
}

/** A dataset by its names, looked up among those the processed layer holds: a request's names never become a path. */
async function locate(dataDir: string, source: string, name: string): Promise<DatasetLocation> {
  const found = (await findDatasets(dataDir)).find((d) => d.source === source && d.name === name);
  if (!found) throw new HttpError(404, `no dataset ${JSON.stringify(`${source}/${name}`)} in the processed layer; GET /v1/datasets lists them`);
  return found;
}

async function answerRows(request: IncomingMessage, response: ServerResponse, url: URL, location: DatasetLocation, options: ServeOptions, engine: Engine): Promise<void> {
  const format = chooseFormat(url.searchParams.get('format'), request.headers.accept);
  const pinned = await pinFiles(location);
  try {
    const schema = await columnsOf(engine, options.dataDir, location, pinned);
    const query = parseRowsQuery(url.searchParams, schema, format === 'json', options);
    if (format === 'json') {
      const page = await engine.withConnection(async (connection) => {
        if (!query.after) {
          const untied = await readPage(connection, buildRowsSql(query, pinned, 'untied'), query.limit!);
          if (!untied.more) return untied;
        }
        return readPage(connection, buildRowsSql(query, pinned, 'page'), query.limit!);
      });
      return answerJson(response, 200, { rows: page.rows, next: page.lastKeys ? encodeCursor(query.order, page.lastKeys) : null });
    }
    const built = buildRowsSql(query, pinned, 'stream');
    await engine.withConnection(async (connection, timer) => {
      const stop = (): void => {
        if (!response.writableFinished) connection.interrupt();
      };
      response.once('close', stop);
      try {
        await streamRows(connection, built, format, response, () => {
          timer.stop();
          const file = `${location.source}-${location.name}.${format}`;
          response.writeHead(200, { 'Content-Type': FORMATS[format], 'Content-Disposition': `attachment; filename="${file}"` });
        });
      } catch (error) {
        // Once rows have gone out the status is sent: the stream is cut short, which the client sees as an incomplete body.
        if (response.headersSent) {
          response.destroy();
          return;
        }
        throw error;
      } finally {
        response.off('close', stop);
      }
    });
  } finally {
    await pinned.release();
  }
}

/** Compared as SHA-256 digests, so the comparison takes the same time whatever the token's length or first difference. */
function checkToken(request: IncomingMessage, token: string | undefined): void {
  if (token === undefined) return;
  const given = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1] ?? '';
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  if (!timingSafeEqual(digest(given), digest(token))) {
    throw new HttpError(401, 'missing or wrong token: send Authorization: Bearer <token>', { 'WWW-Authenticate': 'Bearer' });
  }
}

function answerJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  answerText(response, status, 'application/json', JSON.stringify(body), headers);
}

function answerText(response: ServerResponse, status: number, type: string, text: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text), 'X-Content-Type-Options': 'nosniff', ...headers });
  response.end(response.req.method === 'HEAD' ? undefined : text);
}

/** A 4xx/5xx as `{"error": …}`; an unexpected error is a fixed 500 (its text, which may hold paths, goes to the log only). */
function answerError(response: ServerResponse, error: unknown, log: Logger): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  if (error instanceof HttpError) return answerJson(response, error.status, { error: error.message }, { ...error.headers });
  // DuckDB's own refusal of a value (e.g. a date that does not exist) is the request's fault.
  const message = errorMessage(error);
  if (/^Conversion Error/.test(message)) return answerJson(response, 400, { error: message.split('\n')[0]! });
  log.error(`serve: ${response.req.method} ${response.req.url}: ${message}`);
  answerJson(response, 500, { error: 'internal error; the server log says more' });
}
