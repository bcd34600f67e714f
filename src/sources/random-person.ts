import { crypto } from '../core/lazy-crypto.js';
import type { z } from 'zod';
import { pagesFor } from '../core/api-client.js';
import { mapUntilFailure } from '../core/concurrency.js';
import { SourceError } from '../core/errors.js';
import type { ExtractReport, ExtractRequest, Source, SourceIO, TransformRequest, Zod } from '../core/source.js';
import type { Table } from '../core/table.js';
import { CREDENTIAL_FIELDS, peopleDeclaration } from '../transform/datasets/random-person.js';
import { jsonColumns, rawJsonTable } from '../transform/json/json-table.js';
import { previewJson } from '../transform/json/parse-raw-json.js';

/** randomuser.me serves at most this many people per request. */
const PAGE_SIZE = 5000;

const extractOptions = (z: Zod) =>
  z.object({
  // Decimal digits only (z.coerce took 0x10, 1e3 and " 7"); a number from a config file passes as it is.
  count: z
    .union([z.number(), z.string()])
    .transform((value) => (typeof value === 'number' ? value : /^-?\d+$/.test(value) ? Number(value) : NaN))
    .pipe(z.number('expected a whole number in decimal digits').int('expected a whole number').min(1, 'expected at least 1').max(1_000_000, 'expected at most 1,000,000'))
    .default(PAGE_SIZE),
  seed: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected letters, digits, - or _').optional(),
  nat: z.array(z.string().regex(/^[A-Za-z]{2}$/, 'expected two-letter nationality codes, e.g. gb,br')).optional(),
});
type RandomPersonExtractOptions = z.infer<ReturnType<typeof extractOptions>>;

const transformOptions = (z: Zod) => z.object({ withCredentials: z.boolean().default(false) });
type RandomPersonTransformOptions = z.infer<ReturnType<typeof transformOptions>>;

async function extract(request: ExtractRequest<RandomPersonExtractOptions>, io: SourceIO): Promise<ExtractReport> {
  const { count, nat } = request.options;
  // Every page must come from one seed, or pages would overlap and repeat people.
  const seed = request.options.seed ?? crypto().randomBytes(8).toString('hex');
  if (!request.options.seed) io.log.info(`random-person: no --seed given, using ${seed} (pass --seed ${seed} to get the same people again)`);
  // The HTTP client loads when a source extracts, not with the registry (`etl --help`).
  const { startApiExtraction } = await import('./api-source.js');
  const run = startApiExtraction('random-person', request, io);
  const pages = pagesFor(count, PAGE_SIZE);
  const progress = io.log.progress(`people: 0/${pages.length} pages`);
  let done = 0;
  // The first page that fails ends the extract: the others are cancelled at once (not retried).
  const { done: entries, failure } = await mapUntilFailure(pages, request.concurrency, async ({ page, size }, _index, signal) => {
    const url = new URL('api/', withSlash(request.baseUrl!));
    url.searchParams.set('results', String(size));
    url.searchParams.set('seed', seed);
    url.searchParams.set('page', String(page));
    if (nat?.length) url.searchParams.set('nat', nat.join(',').toLowerCase());
    const { entry } = await run.fetchToRaw({ url: url.href, signal }, `page-${String(page).padStart(5, '0')}.json`, `page-${page}`, (body) => {
      const answer = body as { error?: unknown; results?: unknown[] };
      if (answer.error !== undefined) throw new SourceError(`randomuser.me answered an error: ${typeof answer.error === 'string' ? answer.error.slice(0, 200) : previewJson(answer.error)}`, { retriable: true, hint: 'try again later' });
      if (!Array.isArray(answer.results)) throw new SourceError(`page ${page}: the answer has no results list`, { hint: 'check --base-url points at randomuser.me or a copy of it' });
      if (answer.results.length !== size) io.log.warn(`page ${page}: asked for ${size} people, got ${answer.results.length}`);
    });
    progress.update(`people: ${++done}/${pages.length} pages`);
    return entry;
  });
  // One run is one sample of people: it replaces the pages of the run before, once one of its pages is
  // written (over that run's files). After a failure the pages that completed are recorded, as a partial sample.
  if (entries.length > 0 || !failure) await run.record(entries, () => true);
  if (failure) {
    progress.fail(`people: ${entries.length}/${pages.length} pages before the failure`);
    throw failure.error;
  }
  progress.done(`people: ${pages.length} pages, ${count} people asked for`);
  return run.report(entries);
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

async function transform(request: TransformRequest<RandomPersonTransformOptions>, io: SourceIO): Promise<Table> {
  return rawJsonTable(peopleDeclaration(request.options.withCredentials), { dataDir: request.dataDir, source: 'random-person' }, io.log);
}

const people = peopleDeclaration(false);

export const randomPerson: Source<RandomPersonExtractOptions, RandomPersonTransformOptions> = {
  name: 'random-person',
  description: 'randomuser.me: generated people (name, address, contact, date of birth), reproducible with a seed',
  baseUrl: 'https://randomuser.me',
  offline: 'offline, point --base-url at a stand-in server (README: Try it offline)',
  datasets: [{ name: people.name, title: people.title, columns: jsonColumns(people) }],
  defaultDataset: people.name,
  env: [],
  extractOptions: {
    flags: [
      { flags: '--count <n>', description: `how many people (default: ${PAGE_SIZE}); fetched ${PAGE_SIZE} a page` },
      { flags: '--seed <seed>', description: 'the same seed gives the same people (default: a new random seed, logged)' },
      { flags: '--nat <codes>', description: 'only these nationalities, repeated or comma-separated: gb,br,us…', list: true },
    ],
    schema: extractOptions,
  },
  transformOptions: {
    flags: [{ flags: '--with-credentials', description: `keep the credential-like fields (login_${CREDENTIAL_FIELDS.join(', login_')}), which are dropped by default` }],
    schema: transformOptions,
  },
  help: {
    extract: `
Examples:
  $ etl extract random-person people --count 12000 --seed etl --nat gb,br    3 pages of 5,000, 5,000 and 2,000

A re-run replaces the raw pages of the previous run. The credential-like fields the API sends
(login.password, login.salt, login.md5, login.sha1, login.sha256) are DROPPED by default at transform.`,
    transform: `
Examples:
  $ etl transform random-person people --out people.parquet

One row per person, uuid (from login.uuid) first; nested fields flattened (location_postcode as text
whether the API sent a number or a string, location_street_* from either street shape). The
credential-like fields login.password, login.salt, login.md5, login.sha1 and login.sha256 are DROPPED
by default (--with-credentials keeps them).`,
  },
  extract,
  transform,
};
