import { crypto } from '../core/lazy-crypto.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import { followNext } from '../core/api-client.js';
import { ConfigError } from '../core/errors.js';
import type { Reveal } from '../core/secret.js';
import { secretSetting } from '../core/settings.js';
import { inShard, type ExtractReport, type ExtractRequest, type Shard, type Source, type SourceIO, type TransformRequest, type Zod } from '../core/source.js';
import type { Table } from '../core/table.js';
import { answerLayout, queryDeclaration, renamedFields } from '../transform/datasets/supermetrics.js';
import { LINEAGE_COLUMNS, rawJsonTable } from '../transform/json/json-table.js';
import { parseRawJson } from '../transform/json/parse-raw-json.js';
import { entryMatches, rawDatasetDir, readManifest, readRawEntry, type ResponseEntry, type ResponseManifest } from '../core/raw-layer.js';

const API_KEY_ENV = 'SUPERMETRICS_API_KEY';
const DAY_MS = 86_400_000;
/** Five years of one-day chunks; at 30 days a chunk, 160 years. Each chunk is one request or more. */
const DEFAULT_MAX_CHUNKS = 2000;
/**
 * Pages followed for one chunk. A chunk (a day to a month of one query) is one page or a few, its rows bounded by
 * the query's max_rows; 100 leaves room for large accounts and ends a paginator that never stops within seconds
 * (the cap was 10,000 pages: 460 s).
 */
const DEFAULT_MAX_PAGES = 100;

const extractOptions = (z: Zod) =>
  z
    .object({
      query: z.string('expected a query file, e.g. --query query.json'),
      from: z.iso.date('expected a date YYYY-MM-DD'),
      to: z.iso.date('expected a date YYYY-MM-DD'),
      chunk: z.string().regex(/^[1-9]\d*d$/, 'expected a number of days, e.g. 15d').default('30d'),
      maxChunks: z
        .union([z.number(), z.string().regex(/^\d+$/, 'expected a whole number').transform(Number)])
        .pipe(z.number().int('expected a whole number').min(1, 'expected at least 1').max(1_000_000, 'expected at most 1000000'))
        .default(DEFAULT_MAX_CHUNKS),
      maxPages: z
        .union([z.number(), z.string().regex(/^\d+$/, 'expected a whole number').transform(Number)])
        .pipe(z.number().int('expected a whole number').min(1, 'expected at least 1').max(100_000, 'expected at most 100000'))
        .default(DEFAULT_MAX_PAGES),
      refresh: z.boolean().default(false),
    })
    .refine((o) => o.from <= o.to, { message: 'expected --from on or before --to', path: ['to'] })
    // Counted, not listed: --from 0001-01-01 would list hundreds of thousands of chunks before the first request.
    .superRefine((o, context) => {
      const days = Number(o.chunk.slice(0, -1));
      const count = chunkCount(o.from, o.to, days);
      if (count > o.maxChunks) {
        context.addIssue({
          code: 'custom',
          path: ['from'],
          message: `${o.from}..${o.to} in chunks of ${days} day${days === 1 ? '' : 's'} is ${count} chunks (a request or more each), more than --max-chunks ${o.maxChunks}: narrow --from/--to, use a larger --chunk, or raise --max-chunks`,
        });
      }
    });
type SupermetricsExtractOptions = z.infer<ReturnType<typeof extractOptions>>;

/** How many chunks of `days` days cover from..to (inclusive). */
export function chunkCount(from: string, to: string, days: number): number {
  return Math.ceil((Math.round((Date.parse(to) - Date.parse(from)) / DAY_MS) + 1) / days);
}

/** [start, end] pairs (inclusive) of at most `days` days covering from..to. */
export function chunksOf(from: string, to: string, days: number): Array<{ start: string; end: string }> {
  const chunks: Array<{ start: string; end: string }> = [];
  const last = Date.parse(to);
  for (let start = Date.parse(from); start <= last; start += days * DAY_MS) {
    chunks.push({ start: isoDay(start), end: isoDay(Math.min(start + (days - 1) * DAY_MS, last)) });
  }
  return chunks;
}

const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

async function readQuery(file: string): Promise<Record<string, unknown>> {
  let query: unknown;
  try {
    query = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`--query ${file}: ${(error as Error).message}`, { hint: 'a JSON object with ds_id, fields, max_rows and settings' });
  }
  if (query === null || typeof query !== 'object' || Array.isArray(query) || typeof (query as { ds_id?: unknown }).ds_id !== 'string') {
    throw new ConfigError(`--query ${file}: expected a JSON object with at least ds_id and fields`);
  }
  return query as Record<string, unknown>;
}

async function extract(request: ExtractRequest<SupermetricsExtractOptions>, io: SourceIO): Promise<ExtractReport> {
  const { from, to, chunk, refresh, maxPages } = request.options;
  const query = await readQuery(request.options.query);
  const apiKey = secretSetting(API_KEY_ENV, 'the Supermetrics API key');
  // The HTTP client loads when a source extracts, not with the registry (`etl --help`).
  const { startApiExtraction } = await import('./api-source.js');
  const run = startApiExtraction('supermetrics', request, io, API_KEY_ENV);
  const previous = await readManifest<ResponseManifest>(run.rawDir, io.log);
  const today = isoDay(io.now().getTime());
  const fresh: ResponseEntry[] = [];
  const kept: ResponseEntry[] = [];
  for (const { start, end } of chunksOf(from, to, Number(chunk.slice(0, -1)))) {
    const id = `${start}_${end}`;
    if (!chunkInShard(id, request.shard)) continue;
    const pages = (previous?.files ?? []).map((entry, index) => ({ entry, index })).filter(({ entry }) => entry.key.startsWith(`${id}/`));
    // A chunk still open (it reaches today) may still change; a closed one is kept unless --refresh.
    if (!refresh && end < today && pages.length > 0 && (await allIntact(run.rawDir, pages, io.log))) {
      kept.push(...pages.map(({ entry }) => entry));
      continue;
    }
    // The key goes in last, as the request is sent; the first URL as followNext and messages see it names SUPERMETRICS_API_KEY instead.
    const firstPage = (key: Reveal): string => {
      const url = new URL('enterprise/v2/query/data/json', request.baseUrl!.endsWith('/') ? request.baseUrl! : `${request.baseUrl!}/`);
      url.searchParams.set('json', JSON.stringify({ ...query, start_date: start, end_date: end, api_key: key(apiKey) }));
      return url.href;
    };
    const entries = await followNext(firstPage, async (pageUrl, index) => {
      const { entry, body } = await run.fetchToRaw({ url: pageUrl }, `${id}/page-${String(index + 1).padStart(4, '0')}.json`, `${id}/${index + 1}`, (answer) => {
        answerLayout(answer, `page ${index + 1}`); // the shape transform needs, checked before the file is kept (the error names the URL without the key)
      });
      const next = (body as { meta?: { paginate?: { next?: unknown } } }).meta?.paginate?.next;
      return { page: entry, next: typeof next === 'string' && next !== '' ? next : undefined };
    }, maxPages);
    // Each chunk is recorded as soon as it is complete, so a failed run resumes after it.
    await run.record(entries, (earlier) => earlier.key.startsWith(`${id}/`));
    io.log.info(`supermetrics ${start}..${end}: ${entries.length} page${entries.length === 1 ? '' : 's'}`);
    fresh.push(...entries);
  }
  if (kept.length > 0) io.log.info(`supermetrics: ${new Set(kept.map((e) => e.key.split('/')[0])).size} closed chunks already extracted, not fetched again (--refresh fetches them)`);
  return run.report(fresh, kept);
}

async function allIntact(rawDir: string, entries: ReadonlyArray<{ entry: ResponseEntry; index: number }>, log: SourceIO['log']): Promise<boolean> {
  for (const { entry, index } of entries) if (!(await entryMatches({ rawDir, entry, index }, log))) return false;
  return true;
}

/**
 * A shard takes the chunks whose id (`2024-01-01_2024-01-15`) hashes to its index: the same chunk always
 * goes to the same shard, whatever --from/--to cut around it. sha256, not a short hash like FNV-1a, whose
 * low bits follow the digits' parity (every one-day chunk went to shard 0 of 2).
 */
function chunkInShard(id: string, shard: Shard | undefined): boolean {
  return inShard(crypto().createHash('sha256').update(id).digest().readUInt32BE(0), shard);
}

async function transform(request: TransformRequest, io: SourceIO): Promise<Table> {
  const rawDir = rawDatasetDir(request.dataDir, 'supermetrics', 'query');
  const manifest = await readManifest<ResponseManifest>(rawDir, io.log);
  const first = manifest?.files[0];
  if (!first) {
    throw new ConfigError(`nothing extracted for supermetrics query in ${rawDir}`, { hint: 'run `etl extract supermetrics query --query … --from … --to …` first (same --data-dir)' });
  }
  const firstFile = path.join(rawDir, first.path);
  // Checked against its manifest entry as it is read, then parsed from those bytes.
  const bytes = await readRawEntry({ rawDir, entry: first, index: 0 });
  const layout = answerLayout(parseRawJson(bytes.toString('utf8'), firstFile), firstFile);
  const renamed = renamedFields(layout);
  if (renamed.length > 0) io.log.warn(`schema drift in query: ${renamed.length} field${renamed.length === 1 ? '' : 's'} would share a column name, so a suffix tells them apart: ${renamed.join('; ')}`);
  const keep = (entry: ResponseEntry): boolean => chunkInShard(entry.key.split('/')[0]!, request.shard);
  return rawJsonTable(queryDeclaration(layout), { dataDir: request.dataDir, source: 'supermetrics', keep }, io.log);
}

export const supermetrics: Source<SupermetricsExtractOptions, Record<string, never>> = {
  name: 'supermetrics',
  description: 'Supermetrics query API: marketing data (Google Analytics, ads…) for a query file and a period, in chunks',
  baseUrl: 'https://api.supermetrics.com',
  offline: 'offline, point --base-url at a stand-in server (README: Try it offline)',
  datasets: [{ name: 'query', title: 'Supermetrics query results: columns come from the query (dimensions text or DATE, metrics DOUBLE)', columns: LINEAGE_COLUMNS }],
  defaultDataset: 'query',
  shardsBy: 'chunks',
  env: [{ name: API_KEY_ENV, description: 'the API key, added to each request as api_key', secret: true }],
  extractOptions: {
    flags: [
      { flags: '--query <file.json>', description: 'the query: a JSON object with ds_id, fields, max_rows, settings (etl adds the dates and the key)' },
      { flags: '--from <date>', description: 'first day, YYYY-MM-DD' },
      { flags: '--to <date>', description: 'last day, YYYY-MM-DD' },
      { flags: '--chunk <days>', description: 'split the period into chunks of this many days, one request each, e.g. 15d (default: 30d)' },
      { flags: '--max-chunks <n>', description: `refuse a period of more chunks than this, before any request (default: ${DEFAULT_MAX_CHUNKS})` },
      { flags: '--max-pages <n>', description: `follow at most this many next pages for one chunk; a next page seen before ends at once (default: ${DEFAULT_MAX_PAGES})` },
      { flags: '--refresh', description: 'fetch closed chunks again even when the raw layer has them' },
    ],
    schema: extractOptions,
  },
  transformOptions: { flags: [], schema: (z) => z.object({}) },
  help: {
    extract: `
Examples:
  $ etl extract supermetrics query --query query.json --from 2024-01-01 --to 2024-03-31 --chunk 15d

Each chunk is fetched with start_date/end_date set, following meta.paginate.next until it is absent
(a relative next URL is read against the page that named it; at most --max-pages pages a chunk, and a
next page seen before ends the extract at once); every page is one raw file. A re-run resumes: chunks
already in the raw layer are not fetched again unless --refresh; the last chunk, still open (it reaches
today), is always fetched again. A period of more than --max-chunks chunks is refused before any request.`,
    transform: `
Examples:
  $ etl transform supermetrics query --out marketing.parquet

Output (query): one column per field in snake_case ("M-site_TOTAL: Bounces Landing" becomes
m_site_total_bounces_landing; with a column split, data[0] is the header of pivoted columns; names
that clash get a suffix, "a_b" after "A b" becomes a_b_2); dimensions as text (DATE when named date),
metrics DOUBLE; rows of overlapping or re-fetched periods are kept once (same dimensions: the newest
extraction wins); then extracted_at, source_file. A row dated outside its chunk is a data error.`,
  },
  extract,
  transform,
};
