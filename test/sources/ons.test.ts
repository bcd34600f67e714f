import { z } from 'zod';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as cheerio from 'cheerio';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, DataError, LoadError, SourceError } from '../../src/core/errors.js';
import { ons, sanitizeFileName, scrapeEditionLinks } from '../../src/sources/ons.js';
import type { Table } from '../../src/core/table.js';
import { startFileServer, type FileServer } from '../helpers/http-server.js';
import { EDITIONS, buildOnsSite, fileHref } from '../run/ons-site.js';
import { FIXED_NOW, capturedIO, type CapturedIO } from '../helpers/source-io.js';
import { MONTHLY_DATASET_PATH, datasetPage, onsFileHref } from '../fixtures/ons/dataset-page.js';
import { hasSharedData, sharedFile } from '../helpers/shared-data.js';

const PAGE = 'https://www.ons.gov.uk/peoplepopulationandcommunity/birthsdeathsandmarriages/deaths/datasets/monthlyfiguresondeathsregisteredbyareaofusualresidence';

function scrape(html: string, pageUrl = PAGE): { links: ReturnType<typeof scrapeEditionLinks>; warnings: string[] } {
  const warnings: string[] = [];
  const links = scrapeEditionLinks(html, pageUrl, cheerio, (m) => warnings.push(m));
  return { links, warnings };
}

describe('scrapeEditionLinks', () => {
  it('takes the edition from the URL folder and the file name from the path', () => {
    const html = datasetPage('Monthly figures on deaths', [
      { heading: '2019', href: onsFileHref(MONTHLY_DATASET_PATH, '2019', 'annual2019publishedoutputrefresh.xls') },
      { heading: '2015', href: onsFileHref(MONTHLY_DATASET_PATH, '2015', 'publishedoutput2015final.xls') },
      { heading: '2024', href: onsFileHref(MONTHLY_DATASET_PATH, '2024', 'deathsregisteredmonthlyusualareaofresidenceenglandandwales.xlsx') },
    ]);
    const { links, warnings } = scrape(html);
    expect(warnings).toEqual([]);
    expect(links.map((l) => [l.edition, l.fileName])).toEqual([
      [2019, 'annual2019publishedoutputrefresh.xls'],
      [2015, 'publishedoutput2015final.xls'],
      [2024, 'deathsregisteredmonthlyusualareaofresidenceenglandandwales.xlsx'],
    ]);
    expect(links[0]!.url).toBe(`https://www.ons.gov.uk/file?uri=%2fpeoplepopulationandcommunity%2fbirthsdeathsandmarriages%2fdeaths%2fdatasets%2fmonthlyfiguresondeathsregisteredbyareaofusualresidence%2f2019/annual2019publishedoutputrefresh.xls`);
  });

  it('skips an href that is not a URL at all', () => {
    const html = `<a href="http://[broken/2019/x.xlsx">bad</a>${datasetPage('Deaths', [{ heading: '2019', href: '/file?uri=/a/2019/ok.xlsx' }])}`;
    expect(scrape(html).links.map((l) => l.fileName)).toEqual(['ok.xlsx']);
  });

  it('ignores off-host links with a warning, other file types silently, and duplicates', () => {
    const good = onsFileHref(MONTHLY_DATASET_PATH, '2018', 'publishedannual2018.xls');
    const html = datasetPage('Monthly figures on deaths', [
      { heading: '2018', href: good },
      { heading: '2018 again', href: good },
      { heading: '2017', href: 'https://evil.example.com/file?uri=/x/2017/publishedoutput2017.xls' },
      { heading: 'methodology', href: '/methodology/deaths.pdf' },
    ]);
    const { links, warnings } = scrape(html);
    expect(links.map((l) => l.fileName)).toEqual(['publishedannual2018.xls']);
    expect(warnings).toEqual(['ignoring a workbook link to another host: https://evil.example.com/file?uri=/x/2017/publishedoutput2017.xls']);
  });

  it('never lets a page choose a path outside the raw folder', () => {
    const html = datasetPage('Deaths', [
      { heading: '2016', href: `/file?uri=${encodeURIComponent('/a/2016/../../../etc/passwd.xls')}` },
      { heading: '2017', href: `/file?uri=${encodeURIComponent('/a/2017/..\\..\\evil name.xlsx')}` },
    ]);
    const { links } = scrape(html);
    for (const link of links) {
      expect(link.fileName).not.toMatch(/[/\\]|^\./);
    }
    expect(links.map((l) => l.fileName)).toEqual(['passwd.xls', 'evil_name.xlsx']);
    expect(sanitizeFileName('../../x.xls')).toBe('x.xls');
    expect(sanitizeFileName('..')).toBe('');
    expect(sanitizeFileName('report.pdf')).toBe('');
  });

  it('reads the year at the start of the folder, else from the heading; a link with neither year nor file name is ignored with a warning', () => {
    const html = datasetPage('Deaths', [
      { heading: 'revised', href: '/file?uri=/a/2020revised/r.xlsx' },
      { heading: '2018', href: '/file?uri=/a/v2019/v.xlsx' },
      { heading: 'double slash', href: '/file?uri=/a/2017//double.xlsx' },
      { heading: 'latest', href: '/file?uri=/a/current/nothing.xlsx' },
      { heading: '2016', href: '/file?uri=/a/2016/.xlsx' },
    ]);
    const { links, warnings } = scrape(html);
    expect(links.map((l) => [l.edition, l.fileName])).toEqual([[2020, 'r.xlsx'], [2018, 'v.xlsx'], [2017, 'double.xlsx']]);
    expect(warnings).toEqual([
      'ignoring a workbook link with no edition year or file name: https://www.ons.gov.uk/file?uri=/a/current/nothing.xlsx',
      'ignoring a workbook link with no edition year or file name: https://www.ons.gov.uk/file?uri=/a/2016/.xlsx',
    ]);
    expect(sanitizeFileName('folder\\book.xlsx')).toBe('book.xlsx');
    expect(sanitizeFileName('..hidden.xlsx')).toBe('hidden.xlsx');
  });

  it('takes the year from the edition heading when the folder is `current`', () => {
    const html = datasetPage('Deaths', [{ heading: '2024', href: onsFileHref(MONTHLY_DATASET_PATH, 'current', 'monthly2024.xlsx') }]);
    expect(scrape(html).links.map((l) => l.edition)).toEqual([2024]);
  });

  it.skipIf(!hasSharedData)('reads the real multi-edition ONS page (../shared/data/html)', async () => {
    const pageUrl = 'https://www.ons.gov.uk/economy/inflationandpriceindices/datasets/onlinepricechangesforhighdemandproducts';
    const html = await readFile(sharedFile('html', 'ons_dataset_page_onlinepricechangesforhighdemandproducts_2020-09-24.html'), 'utf8');
    const { links, warnings } = scrape(html, pageUrl);
    expect(warnings).toEqual([]);
    // 17 download buttons; the JSON-LD contentUrl is not an <a> and is not counted twice.
    expect(links).toHaveLength(17);
    expect(new Set(links.map((l) => l.edition))).toEqual(new Set([2020]));
    expect(links[0]).toMatchObject({ fileName: 'pricesdataset.xlsx', edition: 2020 });
    expect(links.map((l) => l.fileName)).toContain('13augustpricesdataset.xlsx');
    for (const link of links) expect(new URL(link.url).host).toBe('www.ons.gov.uk');
  });
});

/** Bytes that pass extract's workbook sniff (zip magic), distinct per name. */
const workbookBytes = (name: string): Buffer => Buffer.concat([Buffer.from('PK\u0003\u0004'), Buffer.from(`workbook ${name}`)]);
const linksPage = (hrefs: string[]): string => `<html><body>${hrefs.map((href) => `<a href="${href}">download</a>`).join('\n')}</body></html>`;
const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

const EDITION_FILES = { 2015: '/data/2015/a2015.xlsx', 2018: '/data/2018/b2018.xlsx', 2021: '/data/2021/c2021.xlsx' } as const;

describe('ons.extract, in-process against a local ONS look-alike', () => {
  let work: string;
  let site: FileServer;
  let io: CapturedIO;
  let dataDir: string;
  let runs = 0;

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'etl-ons-extract-'));
    site = await startFileServer({ '/page': { contentType: 'text/html', body: linksPage(Object.values(EDITION_FILES)) } });
  });
  beforeEach(() => {
    for (const href of Object.values(EDITION_FILES)) site.set(href, { body: workbookBytes(href) });
    dataDir = path.join(work, `run-${++runs}`);
    io = capturedIO();
  });
  afterEach(async () => {
    await io.close();
  });
  afterAll(async () => {
    await site.close();
    await rm(work, { recursive: true, force: true });
  });

  const rawDir = (): string => path.join(dataDir, 'raw', 'ons', 'monthly-deaths');
  const extract = (options: Record<string, unknown> = {}, shard?: { index: number; count: number }) =>
    ons.extract({ dataset: 'monthly-deaths', dataDir, concurrency: 1, rateLimit: 0, options: { url: `${site.url}/page`, ...options }, shard }, io);
  const manifestOf = async (): Promise<{ page_url: string; updated_at: string; files: Array<Record<string, unknown>> }> => JSON.parse(await readFile(path.join(rawDir(), 'manifest.json'), 'utf8'));
  const requestsSince = (since: number) => site.requests.slice(since);

  it('downloads every edition into <data-dir>/raw/ons/<dataset>/<edition>/ and lists each, hashed, in the manifest', async () => {
    const report = await extract({ maxLinks: 3 });
    expect(report).toEqual({
      source: 'ons',
      dataset: 'monthly-deaths',
      url: `${site.url}/page`,
      rawDir: rawDir(),
      files: Object.entries(EDITION_FILES).map(([edition, href]) => ({
        edition: Number(edition),
        file: path.join(edition, path.basename(href)),
        url: `${site.url}${href}`,
        status: 'downloaded',
        bytes: workbookBytes(href).length,
      })),
    });
    for (const [edition, href] of Object.entries(EDITION_FILES)) expect(await readFile(path.join(rawDir(), edition, path.basename(href)))).toEqual(workbookBytes(href));
    const manifest = await manifestOf();
    expect(manifest).toMatchObject({ source: 'ons', dataset: 'monthly-deaths', page_url: `${site.url}/page`, updated_at: FIXED_NOW.toISOString() });
    expect(manifest.files).toEqual(
      Object.entries(EDITION_FILES).map(([edition, href]) => ({
        url: `${site.url}${href}`,
        edition: Number(edition),
        path: `${edition}/${path.basename(href)}`,
        bytes: workbookBytes(href).length,
        sha256: sha256(workbookBytes(href)),
        etag: expect.stringMatching(/^"[0-9a-f]{40}"$/),
        last_modified: expect.stringMatching(/GMT$/),
        content_type: 'application/octet-stream',
        fetched_at: FIXED_NOW.toISOString(),
      })),
    );
    expect(io.lines).toContain(`downloaded 2018/b2018.xlsx (${workbookBytes(EDITION_FILES[2018]).length} bytes)`);
    expect(io.lines).toContain('debug: monthly-deaths: 0/3 editions');
    expect(io.lines).toContain('debug: monthly-deaths: 3 editions, 3 downloaded');
    expect(io.lines.filter((line) => line.includes('temp file'))).toEqual([]);
  });

  it('a re-run asks with If-None-Match and If-Modified-Since and downloads 0 bytes; a file corrupted on disk at the same size is fetched whole', async () => {
    await extract();
    const entries = (await manifestOf()).files;
    const before = site.requests.length;
    const again = await extract();
    expect(again.files.map((f) => [f.status, f.bytes])).toEqual([['unchanged', 0], ['unchanged', 0], ['unchanged', 0]]);
    expect(io.lines).toContain('debug: monthly-deaths: 3 editions, 0 downloaded');
    const conditional = requestsSince(before).filter((r) => r.path !== '/page');
    expect(conditional.map((r) => [r.path, r.status, r.headers['if-none-match'], r.headers['if-modified-since']])).toEqual(
      entries.map((entry) => [new URL(entry.url as string).pathname, 304, entry.etag, entry.last_modified]),
    );

    const damaged = path.join(rawDir(), '2018', 'b2018.xlsx');
    const good = await readFile(damaged);
    await writeFile(damaged, Buffer.from(good.toString('latin1').toUpperCase(), 'latin1'));
    const since = site.requests.length;
    const third = await extract();
    expect(third.files.map((f) => f.status)).toEqual(['unchanged', 'downloaded', 'unchanged']);
    const refetch = requestsSince(since).find((r) => r.path === EDITION_FILES[2018])!;
    expect(refetch.status).toBe(200);
    expect(refetch.headers['if-none-match']).toBeUndefined();
    expect(refetch.headers['if-modified-since']).toBeUndefined();
    expect(await readFile(damaged)).toEqual(good);
    expect((await manifestOf()).files.find((f) => f.path === '2018/b2018.xlsx')).toMatchObject({ sha256: sha256(good), bytes: good.length });
  });

  it('--from/--to pick editions; a range with none says which editions the page has, as a usage error', async () => {
    const before = site.requests.length;
    const report = await extract({ from: 2016, to: 2021 });
    expect(report.files.map((f) => f.edition)).toEqual([2018, 2021]);
    expect((await extract({ from: 2015, to: 2015 })).files.map((f) => f.edition)).toEqual([2015]);
    expect(requestsSince(before).map((r) => r.path).filter((p) => p !== '/page')).toEqual([EDITION_FILES[2018], EDITION_FILES[2021], EDITION_FILES[2015]]);

    const none = extract({ from: 2022 });
    await expect(none).rejects.toBeInstanceOf(ConfigError);
    await expect(none).rejects.toThrow(`no edition matches --from 2022: the page at ${site.url}/page links editions 2015, 2018, 2021`);
    await expect(extract({ to: 2014 })).rejects.toThrow(/^no edition matches --to 2014: /);
    site.set('/single', { contentType: 'text/html', body: linksPage([EDITION_FILES[2015]]) });
    await expect(extract({ url: `${site.url}/single`, from: 2016 })).rejects.toThrow(`no edition matches --from 2016: the page at ${site.url}/single links edition 2015`);
    await expect(extract({ from: 2019, to: 2020 })).rejects.toSatisfy((error: ConfigError) => error.message.startsWith('no edition matches --from 2019 --to 2020:') && error.hint === 'change --from/--to');
  });

  it('--shard i/n takes the editions whose year mod n is i; a shard with none of them does nothing and says so', async () => {
    expect((await extract({}, { index: 0, count: 2 })).files.map((f) => f.edition)).toEqual([2018]);
    expect((await extract({}, { index: 1, count: 2 })).files.map((f) => f.edition)).toEqual([2015, 2021]);
    const before = site.requests.length;
    const idle = await extract({}, { index: 4, count: 5 });
    expect(idle).toEqual({ source: 'ons', dataset: 'monthly-deaths', url: `${site.url}/page`, rawDir: rawDir(), files: [] });
    expect(requestsSince(before).map((r) => r.path)).toEqual(['/page']);
    expect(io.lines).toContain("shard 4/5: none of the 3 editions is this shard's");
    await expect(extract({ from: 2016, to: 2017 }, { index: 0, count: 2 })).rejects.toThrow(/^no edition matches --from 2016 --to 2017 --shard 0\/2: /);
  });

  it('refuses a page with more workbook links than --max-links, or with none, before downloading anything', async () => {
    const before = site.requests.length;
    const tooMany = extract({ maxLinks: 2 });
    await expect(tooMany).rejects.toBeInstanceOf(SourceError);
    await expect(tooMany).rejects.toThrow(`${site.url}/page lists 3 workbook links, more than --max-links 2`);
    await expect(tooMany).rejects.toHaveProperty('hint', 'check --url points at one dataset page; if the page is right, raise --max-links');
    site.set('/empty', { contentType: 'text/html', body: linksPage(['/methodology/deaths.pdf']) });
    const empty = extract({ url: `${site.url}/empty` });
    await expect(empty).rejects.toThrow(`${site.url}/empty: no .xls/.xlsx links on the page`);
    await expect(empty).rejects.toHaveProperty('hint', 'check --url points at the ONS dataset page');
    expect(requestsSince(before).map((r) => r.path)).toEqual(['/page', '/empty']);
  });

  it('an unknown dataset is a usage error listing the datasets, before any request', async () => {
    const before = site.requests.length;
    const unknown = ons.extract({ dataset: 'births', dataDir, concurrency: 1, rateLimit: 0, options: { url: `${site.url}/page` } }, io);
    await expect(unknown).rejects.toSatisfy((error: ConfigError) => error instanceof ConfigError && error.hint === 'choose one of: monthly-deaths, weekly-deaths');
    await expect(unknown).rejects.toThrow('ons has no dataset "births"');
    expect(site.requests.length).toBe(before);
  });

  it('an error page served with 200 fails that edition, keeps its previous copy, and still downloads the others', async () => {
    await extract();
    const previous = await manifestOf();
    site.set(EDITION_FILES[2021], { body: '<html>Service unavailable</html>' });
    site.set(EDITION_FILES[2015], { body: workbookBytes('2015 revised') });
    const before = site.requests.length;
    const failure = extract();
    await expect(failure).rejects.toSatisfy((error: SourceError) => error instanceof SourceError && error.retriable && /run extract again/.test(error.hint ?? ''));
    await expect(failure).rejects.toThrow(/^1 of 3 downloads failed, first: http:\/\/127\.0\.0\.1:\d+\/data\/2021\/c2021\.xlsx did not serve a workbook: not an Excel workbook \(starts with "<html>Service un"\)$/);
    expect(io.lines).toContain('debug: monthly-deaths: 1 of 3 downloads failed');
    expect(io.lines.filter((line) => line.startsWith('warn: c2021.xlsx: '))).toHaveLength(1);
    // Served with 200, it may be a passing fault: retried like a 503 (2 retries here) before that edition fails.
    expect(requestsSince(before).filter((r) => r.path === EDITION_FILES[2021]).length).toBe(3);
    expect(await readFile(path.join(rawDir(), '2021', 'c2021.xlsx'))).toEqual(workbookBytes(EDITION_FILES[2021]));
    expect(await readFile(path.join(rawDir(), '2015', 'a2015.xlsx'))).toEqual(workbookBytes('2015 revised'));
    const files = (await manifestOf()).files;
    expect(files.find((f) => f.edition === 2021)).toEqual(previous.files.find((f) => f.edition === 2021));
    expect(files.find((f) => f.edition === 2015)).toMatchObject({ sha256: sha256(workbookBytes('2015 revised')) });
    expect(await tempFilesBelow(rawDir())).toEqual([]);
  });

  it('a raw folder that cannot be written stops the run with a LoadError (exit 5) and does not try the rest', async () => {
    await mkdir(rawDir(), { recursive: true });
    await writeFile(path.join(rawDir(), '2018'), 'a file where the edition folder goes');
    const before = site.requests.length;
    const failure = extract();
    await expect(failure).rejects.toSatisfy((error: LoadError) => error instanceof LoadError && error.exitCode === 5);
    await expect(failure).rejects.toThrow(/^cannot write .*2018\/b2018\.xlsx: /);
    expect(requestsSince(before).map((r) => r.path)).toEqual(['/page', EDITION_FILES[2015]]);
    expect((await manifestOf()).files.map((f) => f.path)).toEqual(['2015/a2015.xlsx']);
    expect(io.lines).toContain('debug: monthly-deaths: stopped');
  });

  it('credentials in --url go as Basic auth and never into the manifest, the report or the log', async () => {
    const withCredentials = `${site.url.replace('://', '://reader:pa55word@')}/page`;
    const before = site.requests.length;
    const report = await extract({ url: withCredentials });
    const basic = `Basic ${Buffer.from('reader:pa55word').toString('base64')}`;
    expect(requestsSince(before).map((r) => r.headers.authorization)).toEqual([basic, basic, basic, basic]);
    expect(report.url).toBe(`${site.url}/page`);
    expect(report.files.map((f) => f.url)).toEqual(Object.values(EDITION_FILES).map((href) => `${site.url}${href}`));
    const manifest = await readFile(path.join(rawDir(), 'manifest.json'), 'utf8');
    expect(manifest).not.toContain('pa55word');
    expect(JSON.parse(manifest).page_url).toBe(`${site.url}/page`);
    expect(io.lines.join('\n')).not.toContain('pa55word');
  });

  it('removes temp files a killed run left, and saves same-named links of one edition under distinct names', async () => {
    const twins = ['/a/2019/same.v2.xlsx', '/b/2019/same.v2.xlsx', '/c/2019/same.v2.xlsx'];
    for (const href of twins) site.set(href, { body: workbookBytes(href) });
    // First the page links one of them: it is saved under its plain name.
    site.set('/one', { contentType: 'text/html', body: linksPage([twins[0]!]) });
    await extract({ url: `${site.url}/one` });
    expect(io.lines.filter((line) => line.includes('temp file'))).toEqual([]);

    const leftover = path.join(rawDir(), '2018', '.etl-tmp-999999999-0a0b0c-b2018.xlsx');
    await mkdir(path.dirname(leftover), { recursive: true });
    await writeFile(leftover, 'partial');
    site.set('/twins', { contentType: 'text/html', body: linksPage([EDITION_FILES[2018], ...twins, 'http://elsewhere.test/data/2019/x.xlsx']) });
    const before = site.requests.length;
    const report = await extract({ url: `${site.url}/twins` });
    expect(io.lines).toContain(`removed 1 temp file(s) an interrupted run left in ${rawDir()}`);
    expect(io.lines).toContain('warn: ignoring a workbook link to another host: http://elsewhere.test/data/2019/x.xlsx');
    expect(await tempFilesBelow(rawDir())).toEqual([]);
    const names = twins.map((href) => `same.v2-${sha256(`${site.url}${href}`).slice(0, 8)}.xlsx`);
    expect(report.files.map((f) => [f.file, f.status])).toEqual([[path.join('2018', 'b2018.xlsx'), 'downloaded'], ...names.map((name) => [path.join('2019', name), 'downloaded'])]);
    for (const [i, name] of names.entries()) expect(await readFile(path.join(rawDir(), '2019', name))).toEqual(workbookBytes(twins[i]!));
    // The first twin is now saved under another name: fetched whole, not asked "changed since?" for a file not there.
    expect(requestsSince(before).find((r) => r.path === twins[0])!.headers['if-none-match']).toBeUndefined();
    expect(io.lines.filter((line) => line.includes('links on the page are named'))).toEqual([
      `warn: 3 links on the page are named 2019/same.v2.xlsx; each is saved under its own name with a hash of its URL (${twins.map((href) => `${site.url}${href}`).join(', ')})`,
    ]);
  });
});

async function tempFilesBelow(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).filter((name) => path.basename(name).startsWith('.etl-tmp-'));
}

describe('ons.transform, in-process: which workbooks make the table', () => {
  let work: string;
  let site: FileServer;
  let io: CapturedIO;
  let dataDir: string;
  let inputs: string;
  // 2019 twice: the file republished later (a newer Last-Modified) is the one read, though its name sorts last.
  const names = [EDITIONS[0]!.file, 'zz-republished2019.xls', EDITIONS[2]!.file];

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'etl-ons-transform-'));
    const { files, refreshed } = await buildOnsSite(work);
    site = await startFileServer(files);
    site.set('/data/2019/zz-republished2019.xls', refreshed);
    site.set('/both', { contentType: 'text/html', body: linksPage([...EDITIONS.map(({ shape, file }) => fileHref(shape.year, file)), '/data/2019/zz-republished2019.xls']) });
    io = capturedIO();
    dataDir = path.join(work, 'data');
    await ons.extract({ dataset: 'monthly-deaths', dataDir, concurrency: 2, rateLimit: 0, options: { url: `${site.url}/both` } }, io);
    inputs = path.join(work, 'inputs');
    await mkdir(inputs);
    // Name order differs from edition order; a temp file and a CSV are not workbooks to read.
    for (const [i, { file }] of EDITIONS.entries()) await writeFile(path.join(inputs, `${3 - i}-${file}`), await readFile(path.join(work, 'build', file)));
    await writeFile(path.join(inputs, '.etl-tmp-1-ab-0.xlsx'), 'partial');
    await writeFile(path.join(inputs, 'notes.csv'), 'a,b');
    await writeFile(path.join(inputs, 'old.xls.bak'), 'a backup');
  });
  afterAll(async () => {
    await io.close();
    await site.close();
    await rm(work, { recursive: true, force: true });
  });

  const transform = (options: Record<string, unknown> = {}, shard?: { index: number; count: number }, dir = dataDir) => ons.transform({ dataset: 'monthly-deaths', dataDir: dir, options, shard }, io);
  const partNames = async (table: Promise<Table>): Promise<string[]> => {
    const found: string[] = [];
    for await (const part of (await table).parts) found.push(part.name);
    return found;
  };

  it('reads every extracted edition in edition order; --from/--to and --shard pick among them', async () => {
    expect(await partNames(transform())).toEqual(names);
    expect(await partNames(transform({ from: 2016 }))).toEqual(names.slice(1));
    expect(await partNames(transform({ to: 2019 }))).toEqual(names.slice(0, 2));
    expect(await partNames(transform({}, { index: 0, count: 3 }))).toEqual([names[1]]);
    const none = transform({ from: 2022 });
    await expect(none).rejects.toBeInstanceOf(ConfigError);
    await expect(none).rejects.toThrow(`no edition matches --from 2022: the raw layer (${path.join(dataDir, 'raw', 'ons', 'monthly-deaths')}) holds editions 2015, 2019, 2021`);
  });

  it('without an extract first (or after one that kept nothing), says to run it (a usage error)', async () => {
    const emptyRaw = path.join(work, 'empty-raw');
    await mkdir(path.join(emptyRaw, 'raw', 'ons', 'monthly-deaths'), { recursive: true });
    await writeFile(path.join(emptyRaw, 'raw', 'ons', 'monthly-deaths', 'manifest.json'), JSON.stringify({ source: 'ons', dataset: 'monthly-deaths', page_url: 'http://x', updated_at: 'x', files: [] }));
    await expect(transform({}, undefined, emptyRaw)).rejects.toThrow(/^no extracted workbooks for ons monthly-deaths in /);
    const empty = transform({}, undefined, path.join(work, 'nothing-here'));
    await expect(empty).rejects.toSatisfy((error: ConfigError) => error instanceof ConfigError && error.hint === 'run `etl extract ons monthly-deaths` first (same --data-dir), or pass workbooks with --input');
    await expect(empty).rejects.toThrow(`no extracted workbooks for ons monthly-deaths in ${path.join(work, 'nothing-here', 'raw', 'ons', 'monthly-deaths')}`);
  });

  it('reads a workbook only from inside the raw folder, and only with the bytes its manifest entry lists', async () => {
    const raw = (dir: string) => path.join(dir, 'raw', 'ons', 'monthly-deaths');
    const manifest = JSON.parse(await readFile(path.join(raw(dataDir), 'manifest.json'), 'utf8'));
    // A real workbook outside the raw folder, listed with its true size and sha256: only where it lies gives it away.
    const outside = path.join(work, 'build', EDITIONS[0]!.file);
    const bytes = await readFile(outside);
    const hostile = path.join(work, 'hostile');
    await mkdir(raw(hostile), { recursive: true });
    const entry = { ...manifest.files[0], path: path.relative(raw(hostile), outside).split(path.sep).join('/'), bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    await writeFile(path.join(raw(hostile), 'manifest.json'), JSON.stringify({ ...manifest, files: [entry] }));
    const refused = transform({}, undefined, hostile);
    await expect(refused).rejects.toBeInstanceOf(DataError);
    await expect(refused).rejects.toThrow(/manifest\.json: files\[0\]\.path "\.\.\/.*publishedoutput2015final\.xls" is not a relative path inside the raw folder$/);

    // A listed workbook whose bytes changed since extract (a byte flipped) is refused before any workbook is read.
    const changed = path.join(work, 'changed');
    await cp(raw(dataDir), raw(changed), { recursive: true });
    const victim = path.join(raw(changed), manifest.files[2].path);
    const flipped = await readFile(victim);
    flipped[flipped.length - 1] = flipped[flipped.length - 1]! ^ 1;
    await writeFile(victim, flipped);
    await expect(transform({}, undefined, changed)).rejects.toThrow(new RegExp(`manifest\\.json: files\\[2\\]\\.path "${manifest.files[2].path}" does not hold the recorded bytes`));
    expect(await partNames(transform({ to: 2015 }, undefined, changed))).toEqual([names[0]]);
  });

  it('--input takes files as given and a directory as its workbooks in name order; --from/--to apply to them too', async () => {
    expect(await partNames(transform({ input: [inputs] }))).toEqual(['1-deaths2021.xlsx', '2-annual2019publishedoutputrefresh.xls', '3-publishedoutput2015final.xls']);
    expect(await partNames(transform({ input: [path.join(inputs, '3-publishedoutput2015final.xls'), path.join(inputs, '1-deaths2021.xlsx')] }))).toEqual(['3-publishedoutput2015final.xls', '1-deaths2021.xlsx']);
    expect(await partNames(transform({ input: [inputs], from: 2016, to: 2019 }))).toEqual(['2-annual2019publishedoutputrefresh.xls']);
    expect(await partNames(transform({ input: [inputs], to: 2015 }))).toEqual(['3-publishedoutput2015final.xls']);
    // A file whose table cannot be located is kept, so that its read fails and says why.
    const notAWorkbook = path.join(work, 'not-a-workbook.xlsx');
    await writeFile(notAWorkbook, '<html>error page</html>');
    expect(await partNames(transform({ input: [notAWorkbook, path.join(inputs, '1-deaths2021.xlsx')], to: 2019 }))).toEqual(['not-a-workbook.xlsx']);
    expect(io.lines).toContain('debug: 1-deaths2021.xlsx: edition 2021 is outside the range, left out');
    await expect(transform({ input: [inputs], from: 2030 })).rejects.toThrow('no edition matches --from 2030: --input holds editions 2015, 2019, 2021');
    await expect(transform({ input: [inputs], from: 2030, to: 2031 }, { index: 1, count: 2 })).rejects.toThrow(/^no edition matches --from 2030 --to 2031 --shard 1\/2: --input holds editions 2015, 2019, 2021$/);
    await expect(transform({ input: [path.join(inputs, 'missing.xls')] })).rejects.toThrow(`--input ${path.join(inputs, 'missing.xls')}: no such file or directory`);
    const empty = path.join(work, 'empty-dir');
    await mkdir(empty);
    await writeFile(path.join(empty, 'readme.txt'), 'no workbooks');
    await expect(transform({ input: [empty] })).rejects.toThrow(`--input ${empty}: the directory holds no .xls or .xlsx workbooks`);
  });
});

describe('ons options', () => {
  it('--url must be an http(s) URL, written with its scheme', () => {
    const parse = (url: string) => ons.extractOptions.schema(z).safeParse({ url });
    expect(parse('https://www.ons.gov.uk/x').success).toBe(true);
    expect(parse('http://127.0.0.1:8080/page').success).toBe(true);
    for (const url of ['127.0.0.1:8080/page', 'ftp://127.0.0.1/page']) {
      expect(parse(url).error?.issues[0]?.message).toBe('not an http:// or https:// URL: write it with its scheme, e.g. http://127.0.0.1:8080/page');
    }
  });
});
