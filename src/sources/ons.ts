import { crypto } from '../core/lazy-crypto.js';
import { readdir, stat } from 'node:fs/promises';
import { isTempFile, sweepDeadTempFiles } from '../core/atomic-file.js';
import path from 'node:path';
import { ConfigError, LoadError, SourceError, errorMessage } from '../core/errors.js';
import { mapWithLimit } from '../core/concurrency.js';
import { redact, stripCredentials } from '../core/redact.js';
import type { z } from 'zod';
import { inShard, type ExtractReport, type ExtractRequest, type ExtractedFile, type Shard, type Source, type SourceIO, type TransformRequest, type Zod } from '../core/source.js';
import type { Table } from '../core/table.js';
import type { WorkbookDataset } from '../transform/layout/dataset.js';
import { onsDatasets } from '../transform/datasets/index.js';
import type { WorkbookInput } from '../transform/layout/read-workbook-table.js';
import { checkRawEntry, openManifest, rawDatasetDir, readManifest, type ManifestEntry, type RawEntryRef } from '../core/raw-layer.js';

const WORKBOOK_EXTENSIONS = /\.(xlsx|xls|zip)$/i;

export interface EditionLink {
  url: string;
  edition: number;
  fileName: string;
}

/**
 * Workbook links on an ONS dataset page. ONS links look like
 * `/file?uri=/…/monthlyfiguresondeathsregisteredbyareaofusualresidence/2019/annual2019publishedoutputrefresh.xls`
 * (often with %2f for `/`); the edition year is the folder above the file.
 */
export function scrapeEditionLinks(html: string, pageUrl: string, cheerio: typeof import('cheerio'), warn: (message: string) => void): EditionLink[] {
  const $ = cheerio.load(html);
  const page = new URL(pageUrl);
  const links = new Map<string, EditionLink>();
  $('a[href]').each((_, element) => {
    const href = $(element).attr('href')!;
    let url: URL;
    try {
      url = new URL(href, page);
    } catch {
      return;
    }
    const filePath = url.searchParams.get('uri') ?? decodeURIComponent(url.pathname);
    if (!WORKBOOK_EXTENSIONS.test(filePath)) return;
    if (url.host !== page.host) {
      warn(`ignoring a workbook link to another host: ${redact(url.href)}`);
      return;
    }
    const segments = filePath.split('/').filter(Boolean);
    const fileName = sanitizeFileName(segments.at(-1) ?? '');
    const folder = segments.at(-2) ?? '';
    const edition = /^(19|20)\d{2}/.exec(folder) ? Number(folder.slice(0, 4)) : yearFromHeading($, element);
    if (!fileName || edition === undefined) {
      warn(`ignoring a workbook link with no edition year or file name: ${redact(url.href)}`);
      return;
    }
    links.set(url.href, { url: url.href, edition, fileName });
  });
  return [...links.values()];
}

/** `current/…` links carry no year in the URL: take it from the edition heading above the button. */
function yearFromHeading($: import('cheerio').CheerioAPI, element: Parameters<import('cheerio').CheerioAPI>[0]): number | undefined {
  const heading = $(element).attr('aria-label') || $(element).closest('.show-hide, section').find('h3').first().text();
  const match = /\b(19|20)\d{2}\b/.exec(heading);
  return match ? Number(match[0]) : undefined;
}

/** A page decides file names, so no path separators, no `..`, nothing outside a conservative alphabet. */
export function sanitizeFileName(name: string): string {
  const base = name.replace(/\\/g, '/').split('/').pop() ?? '';
  const cleaned = base.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '');
  return WORKBOOK_EXTENSIONS.test(cleaned) ? cleaned : '';
}

export function findDataset(name: string): WorkbookDataset {
  const dataset = onsDatasets.find((d) => d.name === name);
  if (!dataset) {
    throw new ConfigError(`ons has no dataset "${name}"`, { hint: `choose one of: ${onsDatasets.map((d) => d.name).join(', ')}` });
  }
  return dataset;
}

export const DEFAULT_MAX_LINKS = 500;

async function extractEditions(request: OnsExtractRequest, io: SourceIO): Promise<ExtractReport> {
  const dataset = findDataset(request.dataset);
  const pageUrl = request.url ?? dataset.pageUrl;
  const rawDir = rawDatasetDir(request.dataDir, 'ons', dataset.name);
  const maxLinks = request.maxLinks ?? DEFAULT_MAX_LINKS;
  const swept = await sweepDeadTempFiles(rawDir, { recursive: true });
  if (swept.length > 0) io.log.info(`removed ${swept.length} temp file(s) an interrupted run left in ${rawDir}`);
  const cheerio = await import('cheerio');

  const html = await io.http.getText(pageUrl);
  const onPage = scrapeEditionLinks(html, pageUrl, cheerio, (m) => io.log.warn(m));
  if (onPage.length > maxLinks) {
    throw new SourceError(`${redact(pageUrl)} lists ${onPage.length} workbook links, more than --max-links ${maxLinks}`, {
      hint: 'check --url points at one dataset page; if the page is right, raise --max-links',
    });
  }
  if (onPage.length === 0) {
    throw new SourceError(`${redact(pageUrl)}: no .xls/.xlsx links on the page`, { hint: 'check --url points at the ONS dataset page' });
  }
  const inRange = onPage.filter((link) => inYearRange(request, link.edition));
  if (inRange.length === 0) throw emptySelection(request, `the page at ${redact(pageUrl)} links`, onPage.map((link) => link.edition));
  const mine = inRange.filter((link) => inShard(link.edition, request.shard));
  if (mine.length === 0) {
    // More shards than editions: this one has nothing to do, which is not an error.
    io.log.info(`shard ${request.shard!.index}/${request.shard!.count}: none of the ${inRange.length} editions is this shard's`);
    return { source: 'ons', dataset: dataset.name, url: pageUrl, rawDir, files: [] };
  }
  const links = distinctFileNames(mine, (m) => io.log.warn(m));

  const manifest = await openManifest(rawDir, { source: 'ons', dataset: dataset.name, page_url: pageUrl }, io.log, io.now);
  const progress = io.log.progress(`${dataset.name}: 0/${links.length} editions`);
  let finished = 0;
  // A full disk or an unwritable folder stops the run: every other file would fail the same way.
  let fatal: unknown;
  const files = await mapWithLimit(links, request.concurrency, async (link): Promise<ExtractedFile> => {
    const relative = path.join(String(link.edition), link.fileName);
    const entryPath = relative.split(path.sep).join('/');
    const destination = path.join(rawDir, relative);
    const reported = { edition: link.edition, file: relative, url: stripCredentials(link.url) };
    if (fatal) return { ...reported, status: 'failed', bytes: 0, error: 'not tried' };
    // Conditional headers only when the file on disk is the one they describe (re-hashed when the manifest was opened).
    const before = manifest.find(link.url);
    const intact = before?.path === entryPath ? before : undefined;
    try {
      const result = await io.http.download(link.url, destination, intact ? { etag: intact.etag, lastModified: intact.last_modified } : {}, async (temp) => {
        await expectWorkbook(temp, link);
        await manifest.forget(entryPath); // the file is about to change: unlisted until the new bytes are in place
      });
      progress.update(`${dataset.name}: ${++finished}/${links.length} editions`);
      if (result.status === 'not-modified') return { ...reported, status: 'unchanged', bytes: 0 };
      const onDisk = await stat(destination);
      if (onDisk.size !== result.bytes) throw new SourceError(`${destination}: ${onDisk.size} bytes on disk, ${result.bytes} received`, { retriable: true });
      await manifest.record({
        url: link.url,
        edition: link.edition,
        path: entryPath,
        bytes: result.bytes,
        sha256: result.sha256,
        etag: result.etag,
        last_modified: result.lastModified,
        content_type: result.contentType,
        fetched_at: io.now().toISOString(),
      });
      io.log.info(`downloaded ${entryPath} (${result.bytes} bytes)`);
      return { ...reported, status: 'downloaded', bytes: result.bytes };
    } catch (error) {
      if (error instanceof LoadError) fatal ??= error;
      io.log.warn(`${link.fileName}: ${errorMessage(error)}`);
      return { ...reported, status: 'failed', bytes: 0, error: errorMessage(error) };
    }
  });
  await manifest.save();
  if (fatal) {
    progress.fail(`${dataset.name}: stopped`);
    throw fatal;
  }

  const failed = files.filter((f) => f.status === 'failed');
  const downloaded = files.filter((f) => f.status === 'downloaded').length;
  if (failed.length > 0) {
    progress.fail(`${dataset.name}: ${failed.length} of ${links.length} downloads failed`);
    throw new SourceError(`${failed.length} of ${links.length} downloads failed, first: ${failed[0]!.error}`, {
      retriable: true,
      hint: 'files downloaded or unchanged are kept and listed in the manifest; run extract again to retry the rest',
    });
  }
  progress.done(`${dataset.name}: ${links.length} editions, ${downloaded} downloaded`);
  return { source: 'ons', dataset: dataset.name, url: stripCredentials(pageUrl), rawDir, files };
}

/**
 * Several links may name the same edition and file (`/a/2019/same.xls`, `/a/2019/same.xls?v=2`,
 * `/b/2019/same.xls`). Each is kept under its own name, the file name plus a hash of its URL, so no
 * file overwrites another and the names do not depend on the order of the page; one warning per name.
 */
export function distinctFileNames(links: readonly EditionLink[], warn: (message: string) => void): EditionLink[] {
  const byPath = new Map<string, EditionLink[]>();
  for (const link of links) byPath.set(`${link.edition}/${link.fileName}`, [...(byPath.get(`${link.edition}/${link.fileName}`) ?? []), link]);
  return links.map((link) => {
    const group = byPath.get(`${link.edition}/${link.fileName}`)!;
    if (group.length === 1) return link;
    const suffix = crypto().createHash('sha256').update(stripCredentials(link.url)).digest('hex').slice(0, 8);
    const renamed = link.fileName.replace(/(\.[A-Za-z]+)$/, `-${suffix}$1`);
    if (group[0] === link) {
      warn(`${group.length} links on the page are named ${link.edition}/${link.fileName}; each is saved under its own name with a hash of its URL (${group.map((l) => redact(l.url)).join(', ')})`);
    }
    return { ...link, fileName: renamed };
  });
}

/** An error page served with status 200 must not replace a good workbook in the raw layer. */
async function expectWorkbook(file: string, link: EditionLink): Promise<void> {
  if (/\.zip$/i.test(link.fileName)) return;
  try {
    await (await import('../transform/workbook/workbook.js')).sniffFormat(file);
  } catch (error) {
    throw new SourceError(`${redact(link.url)} did not serve a workbook: ${errorMessage(error).replace(/^[^:]*: /, '')}`, {
      retriable: true,
      hint: 'the previous copy (if any) is kept; try again later or check --url',
    });
  }
}

async function transformEditions(request: OnsTransformRequest, io: SourceIO): Promise<Table> {
  // The engine loads when a transform runs, not with the source registry (`etl --help` loads every source).
  const { workbookTable } = await import('../transform/layout/workbook-table.js');
  const dataset = request.datasetFile ? await (await import('../transform/layout/dataset-file.js')).loadDatasetFile(request.datasetFile) : findDataset(request.dataset);
  const warn = (message: string): void => io.log.warn(message);
  const options = { dropUnpublished: request.dropUnpublished };
  if (request.inputs?.length) return workbookTable(dataset, await inputsInYearRange(await expandInputs(request.inputs), dataset, request, io), warn, options);
  const releases = await rawReleases(request, dataset, io);
  const selected = releases.filter((release) => inYearRange(request, release.edition) && inShard(release.edition, request.shard));
  if (selected.length === 0) throw emptySelection(request, `the raw layer (${rawDatasetDir(request.dataDir, 'ons', dataset.name)}) holds`, releases.map((release) => release.edition));
  // Each workbook read must be the one the manifest lists, inside the raw folder: checked before any is read.
  const checked = await Promise.all(selected.map(async ({ ref, ...release }) => ({ ...release, file: await checkRawEntry(ref) })));
  return workbookTable(dataset, checked, warn, options);
}

function inYearRange(request: { fromYear?: number; toYear?: number }, edition: number): boolean {
  return (request.fromYear === undefined || edition >= request.fromYear) && (request.toYear === undefined || edition <= request.toYear);
}

/** Asking for years that are not there is a usage error that says which years are. */
function emptySelection(request: { fromYear?: number; toYear?: number; shard?: Shard }, where: string, editions: readonly number[]): ConfigError {
  const shard = request.shard && `--shard ${request.shard.index}/${request.shard.count}`;
  const range = [request.fromYear && `--from ${request.fromYear}`, request.toYear && `--to ${request.toYear}`, shard].filter(Boolean).join(' ');
  const held = [...new Set(editions)].sort((a, b) => a - b);
  return new ConfigError(`no edition matches ${range}: ${where} ${held.length === 1 ? 'edition' : 'editions'} ${held.join(', ')}`, { hint: 'change --from/--to' });
}

/**
 * --from/--to apply to --input too. A file's edition is known only from inside it (the sheet name), so with a
 * range each file's table is located first; a file where none is found is kept, for its read to fail clearly.
 */
async function inputsInYearRange(inputs: WorkbookInput[], dataset: WorkbookDataset, request: OnsTransformRequest, io: SourceIO): Promise<WorkbookInput[]> {
  if (request.fromYear === undefined && request.toYear === undefined) return inputs;
  const kept: WorkbookInput[] = [];
  const editions: number[] = [];
  const { detectTableLayout } = await import('../transform/layout/read-workbook-table.js');
  for (const input of inputs) {
    const edition = await detectTableLayout(input, dataset).then((table) => table.edition, () => undefined);
    if (edition === undefined || inYearRange(request, edition)) kept.push(input);
    else io.log.debug(`${path.basename(input.file)}: edition ${edition} is outside the range, left out`);
    if (edition !== undefined) editions.push(edition);
  }
  if (kept.length === 0) throw emptySelection(request, '--input holds', editions);
  return kept;
}

/** Files as given; a directory stands for the workbooks directly inside it, in name order. */
async function expandInputs(inputs: readonly string[]): Promise<WorkbookInput[]> {
  const files: WorkbookInput[] = [];
  for (const input of inputs) {
    const info = await stat(input).catch(() => {
      throw new ConfigError(`--input ${input}: no such file or directory`);
    });
    if (!info.isDirectory()) {
      files.push({ file: input });
      continue;
    }
    const names = (await readdir(input)).filter((name) => /\.xlsx?$/i.test(name) && !isTempFile(name)).sort();
    if (names.length === 0) throw new ConfigError(`--input ${input}: the directory holds no .xls or .xlsx workbooks`);
    files.push(...names.map((name) => ({ file: path.join(input, name) })));
  }
  return files;
}

/** Every extracted file with its edition and release time; the dataset's `releases` rule picks among files of one edition. */
async function rawReleases(request: OnsTransformRequest, dataset: WorkbookDataset, io: SourceIO): Promise<Array<WorkbookInput & { edition: number; ref: RawEntryRef }>> {
  const rawDir = rawDatasetDir(request.dataDir, 'ons', dataset.name);
  const manifest = await readManifest(rawDir, io.log);
  if (!manifest || manifest.files.length === 0) {
    throw new ConfigError(`no extracted workbooks for ons ${dataset.name} in ${rawDir}`, {
      hint: `run \`etl extract ons ${dataset.name}\` first (same --data-dir), or pass workbooks with --input`,
    });
  }
  return manifest.files.map((entry, index) => ({ file: path.join(rawDir, entry.path), edition: entry.edition, releasedAt: freshness(entry), ref: { rawDir, entry, index } }));
}

function freshness(entry: ManifestEntry): number {
  return Date.parse(entry.last_modified ?? '') || Date.parse(entry.fetched_at) || 0;
}

const year = (z: Zod) => z.string().regex(/^\d{4}$/, 'expected a four-digit year, e.g. 2015').transform(Number).optional();
const yearFlags = [
  { flags: '--from <year>', description: 'first edition year to include' },
  { flags: '--to <year>', description: 'last edition year to include' },
];

function isHttpUrl(text: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}

const extractOptions = (z: Zod) =>
  z.object({
  url: z
    .string()
    .refine(isHttpUrl, 'not an http:// or https:// URL: write it with its scheme, e.g. http://127.0.0.1:8080/page')
    .optional(),
  from: year(z),
  to: year(z),
  maxLinks: z
    // Decimal digits only (z.coerce took 0x10, 1e3 and " 7"); a number from a config file passes as it is.
    .union([z.number(), z.string()])
    .transform((value) => (typeof value === 'number' ? value : /^-?\d+$/.test(value) ? Number(value) : NaN))
    .pipe(z.number('expected a whole number in decimal digits').int('expected a whole number').min(1, 'expected a whole number of 1 or more'))
    .optional(),
});
type OnsExtractOptions = z.infer<ReturnType<typeof extractOptions>>;

const transformOptions = (z: Zod) => z.object({ input: z.array(z.string()).optional(), datasetFile: z.string().optional(), from: year(z), to: year(z), dropUnpublished: z.boolean().optional() });
type OnsTransformOptions = z.infer<ReturnType<typeof transformOptions>>;

/** What the ONS functions read: the generic request with ONS's own options in place. */
interface OnsExtractRequest extends Omit<ExtractRequest, 'options'> {
  url?: string;
  fromYear?: number;
  toYear?: number;
  maxLinks?: number;
}

interface OnsTransformRequest extends Omit<TransformRequest, 'options'> {
  inputs?: readonly string[];
  datasetFile?: string;
  fromYear?: number;
  toYear?: number;
  dropUnpublished?: boolean;
}

export const ons: Source<OnsExtractOptions, OnsTransformOptions> = {
  name: 'ons',
  description: 'Office for National Statistics dataset pages: one workbook per edition (.xls and .xlsx)',
  datasets: onsDatasets.map((d) => ({ name: d.name, title: d.title, columns: d.columns })),
  defaultDataset: onsDatasets[0]!.name,
  shardsBy: 'editions',
  offline: 'offline, transform workbooks you already have: etl transform ons --input <files or folder>',
  env: [],
  extractOptions: {
    flags: [
      { flags: '--url <url>', description: "another copy of the dataset page: a mirror or a local server", env: 'ONS_URL' },
      ...yearFlags,
      { flags: '--max-links <n>', description: `refuse a page with more workbook links than this (default ${DEFAULT_MAX_LINKS})` },
    ],
    schema: extractOptions,
  },
  transformOptions: {
    flags: [
      { flags: '--input <workbooks...>', description: 'read these workbooks (or every workbook in these directories) instead of the raw layer; the edition comes from the sheet name' },
      { flags: '--dataset-file <file.json>', description: 'a dataset declaration (JSON) to use instead of a built-in dataset; see `etl datasets`' },
      ...yearFlags,
      { flags: '--drop-unpublished', description: 'leave out rows with no figure (months or weeks not yet published, cells printed as a marker such as ":"); by default they are kept with null figures' },
    ],
    schema: transformOptions,
  },
  help: {
    extract: `
Examples:
  $ etl extract ons                               monthly deaths, every edition, into ./data/raw/ons/monthly-deaths/
  $ etl extract ons monthly-deaths --from 2015    only editions from 2015 on
  $ etl extract ons --url http://127.0.0.1:8080/page.html   a mirror or local copy of the page

A re-run asks the server for changes only (If-None-Match / If-Modified-Since) and downloads 0 bytes
when nothing changed; a file on disk that no longer matches its manifest entry is fetched whole again.
Limits (each a flag): --timeout 30 (seconds a connection may stay silent), --download-timeout 300
(seconds for one file or the page, retries included), --retries 4 (429, 5xx, dropped connections and
timeouts; not 4xx, DNS failures, redirect loops), --max-links 500 (workbook links a page may list).
Redirects are followed on the same host only (at most 5), never from https to http; credentials in
--url (user:pass@) are sent as Basic auth to that origin only and never written to the manifest or the
output. Offline, \`etl transform ons --input\` reads workbooks you already have.`,
    transform: `
Examples:
  $ etl transform ons --out deaths.parquet        every extracted edition, stacked
  $ etl transform ons --input Monthly2019Mortality.xls -o 2019.parquet   no extract, no network
  $ etl transform ons --dataset-file births.json --input births2021.xlsx -o births.parquet
  $ etl transform ons --drop-unpublished -o published.parquet   only rows with a figure

Months or weeks not yet published are rows with a null figure unless --drop-unpublished. On a data
error (exit 4) the previous parquet file is left as it was; --skip-bad leaves the workbook out instead.`,
  },
  extract: (request, io) =>
    extractEditions({ ...request, url: request.options.url, fromYear: request.options.from, toYear: request.options.to, maxLinks: request.options.maxLinks }, io),
  transform: (request, io) =>
    transformEditions(
      { ...request, inputs: request.options.input, datasetFile: request.options.datasetFile, fromYear: request.options.from, toYear: request.options.to, dropUnpublished: request.options.dropUnpublished },
      io,
    ),
};
