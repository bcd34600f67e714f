import { readdir, stat } from 'node:fs/promises';
import { z } from 'zod';
import { isTempFile } from '../core/atomic-file.js';
import path from 'node:path';
import { ConfigError, SourceError, errorMessage } from '../core/errors.js';
import { mapWithLimit } from '../core/concurrency.js';
import { redact } from '../core/redact.js';
import type { ExtractReport, ExtractRequest, ExtractedFile, Source, SourceIO, TransformRequest } from '../core/source.js';
import type { Table } from '../core/table.js';
import type { WorkbookDataset } from '../transform/layout/dataset.js';
import { loadDatasetFile } from '../transform/layout/dataset-file.js';
import { onsDatasets } from '../transform/datasets/index.js';
import type { WorkbookInput } from '../transform/layout/read-workbook-table.js';
import { sniffFormat } from '../transform/workbook/workbook.js';
import { workbookTable } from '../transform/layout/workbook-table.js';
import { fileMatches, rawDatasetDir, readManifest, writeManifest, type Manifest, type ManifestEntry } from './raw-layer.js';

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

const year = z.string().regex(/^\d{4}$/, 'expected a four-digit year, e.g. 2015').transform(Number).optional();
const yearFlags = [
  { flags: '--from <year>', description: 'first edition year to include' },
  { flags: '--to <year>', description: 'last edition year to include' },
];

const extractOptions = z.object({ url: z.url().optional(), from: year, to: year });
type OnsExtractOptions = z.infer<typeof extractOptions>;

const transformOptions = z.object({ input: z.array(z.string()).optional(), datasetFile: z.string().optional(), from: year, to: year });
type OnsTransformOptions = z.infer<typeof transformOptions>;

async function extract(request: ExtractRequest<OnsExtractOptions>, io: SourceIO): Promise<ExtractReport> {
  const dataset = findDataset(request.dataset);
  const { from: fromYear, to: toYear } = request.options;
  const pageUrl = request.options.url ?? dataset.pageUrl;
  const rawDir = rawDatasetDir(request.dataDir, 'ons', dataset.name);
  const cheerio = await import('cheerio');

  const html = await io.http.getText(pageUrl);
  const links = scrapeEditionLinks(html, pageUrl, cheerio, (m) => io.log.warn(m)).filter(
    (link) => (fromYear === undefined || link.edition >= fromYear) && (toYear === undefined || link.edition <= toYear),
  );
  if (links.length === 0) {
    throw new SourceError(`${redact(pageUrl)}: no .xls/.xlsx links${fromYear || toYear ? ' in the requested years' : ''} on the page`, {
      hint: 'check --url points at the ONS dataset page (and --from/--to)',
    });
  }

  const previous = await readManifest(rawDir, io.log);
  const known = new Map((previous?.files ?? []).map((entry) => [entry.url, entry]));
  const progress = io.log.progress(`${dataset.name}: 0/${links.length} editions`);
  let finished = 0;
  const results = await mapWithLimit(links, request.concurrency, async (link): Promise<{ file: ExtractedFile; entry?: ManifestEntry }> => {
    const relative = path.join(String(link.edition), link.fileName);
    const destination = path.join(rawDir, relative);
    const before = known.get(link.url);
    // Conditional headers only when the file on disk is the one they describe; otherwise fetch it whole.
    const intact = before && (await fileMatches(destination, before));
    try {
      const result = await io.http.download(link.url, destination, intact ? { etag: before.etag, lastModified: before.last_modified } : {}, (temp) =>
        expectWorkbook(temp, link),
      );
      progress.update(`${dataset.name}: ${++finished}/${links.length} editions`);
      if (result.status === 'not-modified') {
        return { file: { edition: link.edition, file: relative, url: link.url, status: 'unchanged', bytes: 0 }, entry: before! };
      }
      const onDisk = await stat(destination);
      if (onDisk.size !== result.bytes) throw new SourceError(`${destination}: ${onDisk.size} bytes on disk, ${result.bytes} received`, { retriable: true });
      const entry: ManifestEntry = {
        url: link.url,
        edition: link.edition,
        path: relative.split(path.sep).join('/'),
        bytes: result.bytes,
        sha256: result.sha256,
        etag: result.etag,
        last_modified: result.lastModified,
        content_type: result.contentType,
        fetched_at: io.now().toISOString(),
      };
      io.log.info(`downloaded ${entry.path} (${result.bytes} bytes)`);
      return { file: { edition: link.edition, file: relative, url: link.url, status: 'downloaded', bytes: result.bytes }, entry };
    } catch (error) {
      io.log.warn(`${link.fileName}: ${errorMessage(error)}`);
      return { file: { edition: link.edition, file: relative, url: link.url, status: 'failed', bytes: 0, error: errorMessage(error) }, ...(before && intact ? { entry: before } : {}) };
    }
  });

  // The manifest lists what is on disk and verified: new downloads, unchanged files, and earlier files not on the page now.
  const entries = new Map<string, ManifestEntry>(known);
  for (const result of results) {
    if (result.entry) entries.set(result.entry.url, result.entry);
    else entries.delete(result.file.url);
  }
  const manifest: Manifest = {
    source: 'ons',
    dataset: dataset.name,
    page_url: pageUrl,
    updated_at: io.now().toISOString(),
    files: [...entries.values()].sort((a, b) => a.edition - b.edition || a.path.localeCompare(b.path)),
  };
  await writeManifest(rawDir, manifest);

  const files = results.map((r) => r.file);
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
  return { source: 'ons', dataset: dataset.name, url: pageUrl, rawDir, files };
}

/** An error page served with status 200 must not replace a good workbook in the raw layer. */
async function expectWorkbook(file: string, link: EditionLink): Promise<void> {
  if (/\.zip$/i.test(link.fileName)) return;
  try {
    await sniffFormat(file);
  } catch (error) {
    throw new SourceError(`${redact(link.url)} did not serve a workbook: ${errorMessage(error).replace(/^[^:]*: /, '')}`, {
      retriable: true,
      hint: 'the previous copy (if any) is kept; try again later or check --url',
    });
  }
}

async function transform(request: TransformRequest<OnsTransformOptions>, io: SourceIO): Promise<Table> {
  const { input, datasetFile, from: fromYear, to: toYear } = request.options;
  const dataset = datasetFile ? await loadDatasetFile(datasetFile) : findDataset(request.dataset);
  const inputs: WorkbookInput[] = input?.length ? await expandInputs(input) : await rawReleases(request, dataset, io);
  const inYears = (edition: number | undefined): boolean =>
    edition === undefined || ((fromYear === undefined || edition >= fromYear) && (toYear === undefined || edition <= toYear));
  return workbookTable(dataset, inputs.filter((input) => inYears(input.edition)));
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
async function rawReleases(request: TransformRequest, dataset: WorkbookDataset, io: SourceIO): Promise<WorkbookInput[]> {
  const rawDir = rawDatasetDir(request.dataDir, 'ons', dataset.name);
  const manifest = await readManifest(rawDir, io.log);
  if (!manifest || manifest.files.length === 0) {
    throw new ConfigError(`no extracted workbooks for ons ${dataset.name} in ${rawDir}`, {
      hint: `run \`etl extract ons ${dataset.name}\` first (same --data-dir), or pass workbooks with --input`,
    });
  }
  return manifest.files.map((entry) => ({ file: path.join(rawDir, entry.path), edition: entry.edition, releasedAt: freshness(entry) }));
}

function freshness(entry: ManifestEntry): number {
  return Date.parse(entry.last_modified ?? '') || Date.parse(entry.fetched_at) || 0;
}

export const ons: Source<OnsExtractOptions, OnsTransformOptions> = {
  name: 'ons',
  description: 'Office for National Statistics dataset pages: one workbook per edition (.xls and .xlsx)',
  datasets: onsDatasets.map((d) => ({ name: d.name, title: d.title, columns: d.columns })),
  defaultDataset: onsDatasets[0]!.name,
  env: [],
  extractOptions: {
    flags: [{ flags: '--url <url>', description: "another copy of the dataset page: a mirror or a local server", env: 'ONS_URL' }, ...yearFlags],
    schema: extractOptions,
  },
  transformOptions: {
    flags: [
      { flags: '--input <workbooks...>', description: 'read these workbooks (or every workbook in these directories) instead of the raw layer; the edition comes from the sheet name' },
      { flags: '--dataset-file <file.json>', description: 'a dataset declaration (JSON) to use instead of a built-in dataset; see `etl datasets`' },
      ...yearFlags,
    ],
    schema: transformOptions,
  },
  help: `
Examples:
  $ etl extract ons                               monthly deaths, every edition, into ./data/raw/ons/monthly-deaths/
  $ etl extract ons monthly-deaths --from 2015    only editions from 2015 on
  $ etl extract ons --url http://127.0.0.1:8080/page.html   a mirror or local copy of the page
  $ etl transform ons --out deaths.parquet        every extracted edition, stacked
  $ etl transform ons --input Monthly2019Mortality.xls -o 2019.parquet
  $ etl transform ons --dataset-file births.json --input births2021.xlsx -o births.parquet

A re-run asks the server for changes only (If-None-Match / If-Modified-Since) and downloads 0 bytes
when nothing changed. Output (monthly-deaths): edition INT32, period DATE, geo_code STRING?,
geo_name STRING, deaths INT64?, source_file STRING; \`etl datasets\` lists every dataset's columns.`,
  extract,
  transform,
};
