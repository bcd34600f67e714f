import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MONTHLY_DATASET_PATH, datasetPage, onsFileHref, type PageLink } from '../test/fixtures/ons/dataset-page.js';
import { monthlySheets } from '../test/fixtures/ons/monthly-workbook.js';
import { startFileServer } from '../test/helpers/http-server.js';
import { writeWorkbook } from '../test/helpers/workbook-writer.js';
import { LOAD_BYTES, TABULAR_ROWS, prepareInputs } from './inputs.js';
import { writePeopleRawLayer } from './json-inputs.js';
import { LOAD_SCENARIOS, LOAD_UPLOAD_SCENARIOS, benchLoad, describeS3Parts } from './load.js';
import { POSTGRES_SCENARIOS, benchPostgres } from './postgres.js';
import { DELTA_SCENARIOS, benchDelta } from './delta.js';
import { SERVE_SCENARIOS, benchServe } from './serve.js';
import { REGRESSION_RATIO, pairedMeasurer, prepareBaseline, type NotPaired, type PairedResult } from './baseline.js';
import { canMeasureRss, measure, round, runProcess, table, type Measurer, type Result } from './measure.js';

/**
 * `npm run bench`: generates its inputs into bench/out/inputs (kept for the next run), runs each
 * scenario as whole processes several times, prints a table of medians and writes bench/out/results.json.
 *
 *   npm run bench -- --runs 3          fewer runs
 *   npm run bench -- --only help,transform-xlsx-60k
 *   npm run bench -- --only json-people-100k         random-person JSON pages -> parquet, 10k and 100k, vs DuckDB
 *   npm run bench -- --only load-s3-256m,load-rerun-s3-256m,load-gcs-256m,load-file-256m
 *   npm run bench -- --only pg-load-1m,pg-load-100k,psql-copy-in-1m,pg-extract-1m,psql-copy-out-1m
 *                                      Postgres: etl load / extract against psql \copy, on a throwaway cluster
 *   npm run bench -- --only refresh-1-of-10-hive,refresh-1-of-10-delta   one ONS edition refreshed: Hive rewrite vs Delta commit
 *   npm run bench -- --only serve-point-1m,serve-page-1m,serve-csv-10m
 *                                      etl serve: req/s against DuckDB in-process; peak RSS streaming 10M rows as CSV
 *   npm run bench -- --fresh           generate the inputs again
 *   npm run bench -- --etl /other/checkout/bin/etl.js --json bench/out/results-other.json
 *                                      time another build's CLI (e.g. the seed) on the same inputs
 *   npm run bench -- --baseline main   build main in a temp worktree; run both builds alternately on the
 *                                      same inputs; print new/old ratios, past 1.15 a REGRESSION (exit 1);
 *                                      every scenario whose etl side is a CLI process is paired, the rest
 *                                      (peers, bench scripts, a command the baseline lacks) listed with why
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../../..'); // bench/out/build/bench -> repository root
const outDir = path.join(repo, 'bench', 'out');
const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? undefined : args[at + 1];
};
const runs = Number(flag('runs') ?? 5);
const only = flag('only')?.split(',');
const etl = path.resolve(flag('etl') ?? path.join(repo, 'bin', 'etl.js'));
const resultsFile = path.resolve(flag('json') ?? path.join(outDir, 'results.json'));
const wanted = (id: string): boolean => !only || only.includes(id);
const node = process.execPath;
const script = (name: string): string => path.join(here, `${name}.js`);
const megabytes = async (file: string): Promise<number> => (await stat(file)).size / 1e6;
const log = (line: string): void => void process.stdout.write(`${line}\n`);

const results: Result[] = [];
const skipped: Array<{ scenario: string; reason: string }> = [];
// One scratch folder per bench run: two runs at once (say, one with --baseline) must not delete each other's files.
await mkdir(outDir, { recursive: true });
const tmp = await mkdtemp(path.join(outDir, 'tmp-'));

log(`etl bench: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; ${runs} runs each; CLI ${path.relative(repo, etl) || etl}`);
if (!canMeasureRss) log('  /usr/bin/time (GNU time) not found: peak RSS is not measured');
log('inputs:');
// Only the ONS transforms, xlsx-1m-x10 and the loads read these files, which take minutes to generate the first time;
// the other scenarios make their own inputs or need none.
const readsInputs = (id: string): boolean => id.startsWith('transform-') || id === 'xlsx-1m-x10' || (LOAD_SCENARIOS as readonly string[]).includes(id);
const inputs = only && !only.some(readsInputs) ? undefined : await prepareInputs(path.join(outDir, 'inputs'), args.includes('--fresh'), log);

const pandas = spawnSync('python3', ['-c', 'import pandas, pyarrow, openpyxl'], { encoding: 'utf8' });
const pandasReason = pandas.error ? 'python3 not found' : pandas.status !== 0 ? `python3 -c "import pandas, pyarrow, openpyxl" failed: ${(pandas.stderr.trim().split('\n').pop() ?? '').trim()}` : null;
const xlrd = pandasReason === null && spawnSync('python3', ['-c', 'import xlrd']).status === 0;

const baselineRef = flag('baseline');
if (baselineRef !== undefined) log(`baseline: building ${baselineRef}`);
const baseline = baselineRef === undefined ? undefined : await prepareBaseline(repo, baselineRef, log);
if (baseline) process.once('exit', () => baseline.remove());
const paired: PairedResult[] = [];
const notPaired: NotPaired[] = [];
// The scenarios below are the same with or without --baseline: only how etl's CLI runs are measured differs.
const measurer: Measurer = baseline
  ? pairedMeasurer({ new: etl, old: baseline.etl }, paired, notPaired)
  : { cli: (id, detail, options, once) => measure(id, detail, options, () => once(etl)), runPeer: () => true };
/** A bench script on this checkout's modules, not etl's CLI: run, or against --baseline listed as not paired. */
const runScript = (id: string): boolean => {
  if (baseline) notPaired.push({ scenario: id, reason: "a bench script on this checkout's modules, not etl's CLI" });
  return !baseline;
};

/** pyarrow (and DuckDB's Python package) read what the run just wrote: readers that are not etl's own. */
function interopCheck(file: string, rows: number): void {
  // Against --baseline the output is whichever build ran last.
  if (pandasReason !== null || baseline) return;
  const check = spawnSync('python3', [path.join(repo, 'bench', 'interop_check.py'), file, String(rows)], { encoding: 'utf8' });
  for (const line of `${check.stdout}${check.stderr}`.trim().split('\n')) log(`    ${line}`);
  if (check.status !== 0) throw new Error(`${path.basename(file)}: a reader that is not etl's disagrees (above)`);
}

log(baseline ? 'scenarios (new = this checkout, old = the baseline), alternating run by run:' : 'scenarios:');
const transform = (input: string, out: string) => (cli: string) => runProcess(node, [cli, 'transform', 'ons', '--input', input, '--out', out]);
const pandasPeer = (mode: string, input: string, out: string) => () => runProcess('python3', [path.join(repo, 'bench', 'pandas_peer.py'), mode, input, out]);
const monthlyRowsOut = (areas: number) => areas * 12;

for (const [id, input, areas] of inputs
  ? ([
      ['transform-xlsx-60k', inputs.monthly60k, 60_000],
      ['transform-xlsx-6k', inputs.monthly6k, 6_000],
      ['transform-xls-60k', inputs.monthly60kXls, 60_000],
    ] as const)
  : []) {
  if (!wanted(id)) continue;
  const out = path.join(tmp, `${id}.parquet`);
  const detail = `etl transform ons --input ${path.basename(input)} (${areas.toLocaleString('en')} areas x 12 months)`;
  results.push(await measurer.cli(id, detail, { runs, warmUp: true, rows: monthlyRowsOut(areas), megabytes: await megabytes(input) }, transform(input, out)));
  interopCheck(out, monthlyRowsOut(areas));
  const peer = `pandas-${id}`;
  if (!measurer.runPeer(peer)) continue;
  if (pandasReason !== null) skipped.push({ scenario: peer, reason: pandasReason });
  else if (input.endsWith('.xls') && !xlrd) skipped.push({ scenario: peer, reason: 'xlrd (pandas needs it for .xls) not installed' });
  else results.push(await measure(peer, `pandas read_excel + melt + to_parquet, ${path.basename(input)}`, { runs: Math.min(runs, 3), rows: monthlyRowsOut(areas), megabytes: await megabytes(input) }, pandasPeer('monthly', input, path.join(tmp, `${peer}.parquet`))));
}

if (wanted('xlsx-1m-x10') && runScript('xlsx-1m-x10')) {
  const detail = `${TABULAR_ROWS.toLocaleString('en')} rows x 10 columns .xlsx -> parquet (reader + writer, no engine)`;
  results.push(await measure('xlsx-1m-x10', detail, { runs: Math.min(runs, 3), rows: TABULAR_ROWS, megabytes: await megabytes(inputs!.tabular1m) }, () =>
    // Its sheet inflates to ~400 MB, past the 256 MB default limit on one part: a user raises it the same way.
    runProcess(node, [script('tabular'), inputs!.tabular1m, path.join(tmp, 'xlsx-1m-x10.parquet')], { ETL_WORKBOOK_MAX_PART_BYTES: String(1024 * 1024 * 1024) }),
  ));
  if (pandasReason !== null) skipped.push({ scenario: 'pandas-xlsx-1m-x10', reason: pandasReason });
  else results.push(await measure('pandas-xlsx-1m-x10', 'pandas read_excel + to_parquet, same file', { runs: 1, rows: TABULAR_ROWS, megabytes: await megabytes(inputs!.tabular1m) }, pandasPeer('tabular', inputs!.tabular1m, path.join(tmp, 'pandas-1m.parquet'))));
}

if (wanted('write-1m-x10') && runScript('write-1m-x10')) {
  const ours = path.join(tmp, 'write-1m-x10.parquet');
  const rowsOnly = await measure('rows-1m-x10-js', 'making the 1M rows in JS only (part of the next line)', { runs: Math.min(runs, 3), rows: TABULAR_ROWS }, () =>
    runProcess(node, [script('write-rows'), String(TABULAR_ROWS), ours, '--no-write']),
  );
  const write = await measure('write-1m-x10', 'etl parquet writer: 1M x 10 rows from JS to zstd parquet', { runs: Math.min(runs, 3), rows: TABULAR_ROWS }, () =>
    runProcess(node, [script('write-rows'), String(TABULAR_ROWS), ours]),
  );
  const outputMb = await megabytes(ours);
  write.mbPerS = round(outputMb / write.medianWallS, 2);
  write.mbOf = 'output';
  const scratch = path.join(tmp, 'copy-peer.duckdb');
  await runProcess(node, [script('duckdb-copy'), 'prepare', ours, scratch]);
  const copy = await measure('duckdb-copy-1m-x10', 'DuckDB COPY ... TO of the same rows, already in a DuckDB table', { runs: Math.min(runs, 3), rows: TABULAR_ROWS }, () =>
    runProcess(node, [script('duckdb-copy'), 'copy', scratch, path.join(tmp, 'copy-peer.parquet')]),
  );
  copy.mbPerS = round((await megabytes(path.join(tmp, 'copy-peer.parquet'))) / copy.medianWallS, 2);
  copy.mbOf = 'output';
  results.push(rowsOnly, write, copy);
}

if (wanted('json-people-10k') || wanted('json-people-100k')) {
  // 10k and 100k people: the second has 10x the records, so its peak RSS shows whether memory grows with them.
  for (const people of [10_000, 100_000]) {
    const id = `json-people-${people / 1000}k`;
    if (!wanted(id) && !wanted('json-people-100k')) continue;
    const dataDir = await writePeopleRawLayer(path.join(tmp, id), people);
    const megabytesIn = (await Promise.all((await readdir(path.join(dataDir, 'raw', 'random-person', 'people'))).map((name) => megabytes(path.join(dataDir, 'raw', 'random-person', 'people', name))))).reduce((a, b) => a + b, 0);
    results.push(await measurer.cli(id, `etl transform random-person: ${people.toLocaleString('en')} people in ${people / 5000} raw JSON pages -> parquet`, { runs: Math.min(runs, 3), warmUp: people === 10_000, rows: people, megabytes: megabytesIn }, (cli) =>
      runProcess(node, [cli, 'transform', 'random-person', '--data-dir', dataDir, '--out', path.join(tmp, `${id}.parquet`)]),
    ));
    interopCheck(path.join(tmp, `${id}.parquet`), people);
    if (people === 100_000 && measurer.runPeer(`duckdb-${id}`)) {
      results.push(await measure(`duckdb-${id}`, 'DuckDB read_json + unnest + COPY TO parquet, the same pages', { runs: Math.min(runs, 3), rows: people, megabytes: megabytesIn }, () =>
        runProcess(node, [script('json-peer'), path.join(dataDir, 'raw', 'random-person', 'people'), path.join(tmp, `duckdb-${id}.parquet`)]),
      ));
    }
  }
}

if (wanted('help')) {
  results.push(await measurer.cli('help', 'etl --help (start-up)', { runs: Math.max(runs, 10), warmUp: true }, (cli) => runProcess(node, [cli, '--help'])));
  if (measurer.runPeer('node-e-0')) results.push(await measure('node-e-0', 'node -e 0 (the floor: Node starting and exiting)', { runs: Math.max(runs, 10), warmUp: true }, () => runProcess(node, ['-e', '0'])));
}

if (wanted('extract-first-19') || wanted('extract-rerun-19')) {
  const editions = Array.from({ length: 19 }, (_, i) => 2006 + i);
  const files: Record<string, { body: Buffer | string; contentType?: string }> = {};
  const build = path.join(tmp, 'editions');
  await mkdir(build, { recursive: true });
  const hrefs: PageLink[] = [];
  for (const year of editions) {
    const name = `publishedoutput${year}.${year < 2016 ? 'xls' : 'xlsx'}`;
    await writeWorkbook(path.join(build, name), monthlySheets({ year }));
    const href = onsFileHref(MONTHLY_DATASET_PATH, String(year), name);
    files[href] = { body: await readFile(path.join(build, name)) };
    hrefs.push({ heading: String(year), href });
  }
  const pagePath = '/monthly-deaths';
  files[pagePath] = { body: datasetPage('Monthly figures on deaths registered by area of usual residence', hrefs), contentType: 'text/html' };
  const server = await startFileServer(files);
  try {
    // One data folder per build: each re-run finds what that build extracted.
    const dataDir = (cli: string) => path.join(tmp, cli === etl ? 'extract-data' : 'extract-data-baseline');
    const extract = (cli: string) => runProcess(node, [cli, 'extract', 'ons', '--url', server.url + pagePath, '--data-dir', dataDir(cli)]);
    results.push(await measurer.cli('extract-first-19', '19 editions from a local server, nothing on disk yet', { runs: Math.min(runs, 3) }, async (cli) => {
      await rm(dataDir(cli), { recursive: true, force: true });
      return extract(cli);
    }));
    const rerun = await measurer.cli('extract-rerun-19', 'the same again: every file unchanged (304), 0 bytes', { runs }, extract);
    results.push(rerun);
  } finally {
    await server.close();
  }
}

const load = LOAD_SCENARIOS.some(wanted) ? await benchLoad({ measurer, file: inputs!.load256MiB, work: tmp, runs, wanted, log }) : undefined;
if (load) {
  results.push(...load.results);
  skipped.push(...load.skipped);
}

const postgres = POSTGRES_SCENARIOS.some(wanted) ? await benchPostgres({ etl, measurer, writeRows: script('write-rows'), work: tmp, runs, wanted, log }) : undefined;
if (postgres) {
  results.push(...postgres.results);
  skipped.push(...postgres.skipped);
}

if (DELTA_SCENARIOS.some(wanted)) {
  const delta = await benchDelta({ measurer, work: tmp, runs, wanted, log });
  results.push(...delta);
  const [hive, commit] = DELTA_SCENARIOS.map((id) => delta.find((result) => result.scenario === id));
  if (hive && commit) log(`  Delta commit / Hive rewrite, refreshing 1 of 10 partitions: ${(commit.medianWallS / hive.medianWallS).toFixed(2)}x (goal < 2x)`);
}
const serve = SERVE_SCENARIOS.some(wanted) ? await benchServe({ measurer, inputsDir: path.join(outDir, 'inputs'), wanted, log }) : undefined;
if (serve) results.push(...serve.results);
if (baseline) {
  await reportBaseline(baseline.ref);
  process.exit(process.exitCode ?? 0);
}

const show = (value: number | null, digits = 0): string => (value === null ? 'n/a' : value.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
log('');
log(
  table(
    ['scenario', 'runs', 'median wall (s)', 'rows/s', 'MB/s', 'peak RSS (MB)'],
    results.map((r) => [r.scenario, String(r.runs), r.medianWallS.toFixed(2), show(r.rowsPerS), r.mbPerS === null ? 'n/a' : `${r.mbPerS.toFixed(1)}${r.mbOf === 'output' ? ' out' : ''}`, show(r.medianPeakRssMb)]),
  ),
);
for (const { scenario, reason } of skipped) log(`skipped ${scenario}: ${reason}`);

/** The issue's targets, checked against this run. */
const find = (id: string): Result | undefined => results.find((r) => r.scenario === id);
const targets: Array<{ target: string; measured: string; met: boolean | null }> = [];
const xlsx60k = find('transform-xlsx-60k');
const pandas60k = find('pandas-transform-xlsx-60k');
if (xlsx60k && pandas60k) {
  const speed = pandas60k.medianWallS / xlsx60k.medianWallS;
  targets.push({ target: 'transform >= 6x faster than pandas on the same file (stretch 8x)', measured: `${speed.toFixed(1)}x`, met: speed >= 6 });
  if (pandas60k.medianPeakRssMb !== null && xlsx60k.medianPeakRssMb !== null) {
    const memory = xlsx60k.medianPeakRssMb / pandas60k.medianPeakRssMb;
    targets.push({ target: 'peak RSS <= 0.6x pandas (stretch 0.5x)', measured: `${xlsx60k.medianPeakRssMb.toFixed(0)} vs ${pandas60k.medianPeakRssMb.toFixed(0)} MB = ${memory.toFixed(2)}x`, met: memory <= 0.6 });
  }
} else if (xlsx60k) {
  const issuePandasReadS = 5.5;
  targets.push({
    target: 'transform >= 4x faster than pandas on the same file',
    measured: `pandas not installed; vs the issue's ${issuePandasReadS} s pandas read alone: ${(issuePandasReadS / xlsx60k.medianWallS).toFixed(1)}x`,
    met: null,
  });
}
const xlsx6k = find('transform-xlsx-6k');
if (xlsx60k?.medianPeakRssMb && xlsx6k?.medianPeakRssMb) {
  const ratio = xlsx60k.medianPeakRssMb / xlsx6k.medianPeakRssMb;
  targets.push({ target: '10x the rows costs < 1.5x the peak RSS', measured: `${xlsx6k.medianPeakRssMb.toFixed(0)} -> ${xlsx60k.medianPeakRssMb.toFixed(0)} MB = ${ratio.toFixed(2)}x`, met: ratio < 1.5 });
}
const write = find('write-1m-x10');
const copy = find('duckdb-copy-1m-x10');
if (write && copy) {
  const ratio = write.medianWallS / copy.medianWallS;
  targets.push({ target: "parquet writing within 1.5x of DuckDB's COPY ... TO", measured: `${write.medianWallS.toFixed(2)} vs ${copy.medianWallS.toFixed(2)} s = ${ratio.toFixed(2)}x`, met: ratio <= 1.5 });
}
const json100k = find('json-people-100k');
const json10k = find('json-people-10k');
const duckJson = find('duckdb-json-people-100k');
if (json100k && duckJson) {
  const ratio = json100k.medianWallS / duckJson.medianWallS;
  targets.push({ target: 'JSON -> parquet (100k people) within 1.5x of DuckDB read_json -> COPY (stretch 1.0x)', measured: `${json100k.medianWallS.toFixed(2)} vs ${duckJson.medianWallS.toFixed(2)} s = ${ratio.toFixed(2)}x`, met: ratio <= 1.5 });
  if (json100k.medianPeakRssMb !== null && duckJson.medianPeakRssMb !== null) {
    targets.push({ target: 'JSON: peak RSS below DuckDB read_json -> COPY', measured: `${json100k.medianPeakRssMb.toFixed(0)} vs ${duckJson.medianPeakRssMb.toFixed(0)} MB`, met: json100k.medianPeakRssMb < duckJson.medianPeakRssMb });
  }
}
if (json100k?.medianPeakRssMb && json10k?.medianPeakRssMb) {
  const ratio = json100k.medianPeakRssMb / json10k.medianPeakRssMb;
  targets.push({ target: 'JSON: 10x the records costs < 1.5x the peak RSS', measured: `${json10k.medianPeakRssMb.toFixed(0)} -> ${json100k.medianPeakRssMb.toFixed(0)} MB = ${ratio.toFixed(2)}x`, met: ratio < 1.5 });
}
const help = find('help');
const nodeFloor = find('node-e-0');
if (help && nodeFloor) targets.push({ target: 'etl --help <= 2x node -e 0', measured: `${(help.medianWallS * 1000).toFixed(0)} vs ${(nodeFloor.medianWallS * 1000).toFixed(0)} ms = ${(help.medianWallS / nodeFloor.medianWallS).toFixed(2)}x`, met: help.medianWallS <= 2 * nodeFloor.medianWallS });
const rerun = find('extract-rerun-19');
if (rerun) targets.push({ target: 'extract re-run, nothing changed, 19 editions < 1 s', measured: `${rerun.medianWallS.toFixed(2)} s`, met: rerun.medianWallS < 1 });
const uploads = LOAD_UPLOAD_SCENARIOS.flatMap((id) => find(id) ?? []);
const loadMb = LOAD_BYTES / 1e6;
if (uploads.length > 0 && uploads.every((r) => r.medianPeakRssMb !== null)) {
  const peak = Math.max(...uploads.map((r) => r.medianPeakRssMb!));
  const each = uploads.map((r) => `${r.scenario.replace(/^load-|-256m$/g, '')} ${r.medianPeakRssMb!.toFixed(0)}`).join(', ');
  targets.push({ target: `load streams: peak RSS below the file size (${loadMb.toFixed(0)} MB), which a full read would hold`, measured: `peak RSS ${peak.toFixed(0)} MB for a 256 MiB file (${each} MB)`, met: peak < loadMb });
}
const parts = load?.s3Parts ?? [];
if (parts.length > 0) {
  const fewest = Math.min(...parts.map((p) => Math.min(p.reported, p.seen)));
  const concurrent = Math.min(...parts.map((p) => p.maxInFlight));
  targets.push({
    target: 'load: S3 multipart, parts uploaded concurrently',
    measured: describeS3Parts(parts),
    met: fewest > 1 && concurrent > 1,
  });
}
const loadRerun = find('load-rerun-s3-256m');
if (loadRerun) targets.push({ target: 'load re-run, nothing changed: skipped, 0 bytes', measured: `${loadRerun.medianWallS.toFixed(2)} s, 0 bytes sent (checked on every run)`, met: true });
const pgLoad = find('pg-load-1m');
const psqlIn = find('psql-copy-in-1m');
if (pgLoad && psqlIn) {
  const ratio = pgLoad.medianWallS / psqlIn.medianWallS;
  targets.push({ target: 'Postgres load (1M x 10 parquet) within 1.5x of psql \\copy from CSV', measured: `${pgLoad.medianWallS.toFixed(2)} vs ${psqlIn.medianWallS.toFixed(2)} s = ${ratio.toFixed(2)}x`, met: ratio <= 1.5 });
}
const pgLoad100k = find('pg-load-100k');
if (pgLoad?.medianPeakRssMb && pgLoad100k?.medianPeakRssMb) {
  const ratio = pgLoad.medianPeakRssMb / pgLoad100k.medianPeakRssMb;
  targets.push({ target: 'Postgres load: 10x the rows costs < 1.5x the peak RSS', measured: `${pgLoad100k.medianPeakRssMb.toFixed(0)} -> ${pgLoad.medianPeakRssMb.toFixed(0)} MB = ${ratio.toFixed(2)}x`, met: ratio < 1.5 });
}
const pgExtract = find('pg-extract-1m');
const psqlOut = find('psql-copy-out-1m');
if (pgExtract && psqlOut) {
  const ratio = pgExtract.medianWallS / psqlOut.medianWallS;
  targets.push({ target: 'Postgres extract (1M rows -> raw parquet) within 1.5x of psql \\copy to CSV', measured: `${pgExtract.medianWallS.toFixed(2)} vs ${psqlOut.medianWallS.toFixed(2)} s = ${ratio.toFixed(2)}x`, met: ratio <= 1.5 });
}
if (serve?.csv) {
  targets.push({ target: 'etl serve: peak RSS streaming 10M rows as CSV < 300 MB', measured: `${serve.csv.peakRssMb.toFixed(0)} MB (${serve.csv.rows.toLocaleString('en')} rows, ${serve.csv.megabytes.toFixed(0)} MB in ${serve.csv.seconds.toFixed(1)} s)`, met: serve.csv.peakRssMb < 300 && serve.csv.rows === 10_000_000 });
}
log('');
log(table(['target', 'measured', 'met'], targets.map((t) => [t.target, t.measured, t.met === null ? 'not measured' : t.met ? 'yes' : 'NO'])));

const report = {
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memoryGiB: round(os.totalmem() / 2 ** 30, 1), node: process.version, platform: `${os.platform()} ${os.release()}` },
  cli: etl,
  runsPerScenario: runs,
  pandas: pandasReason === null ? 'installed' : `skipped: ${pandasReason}`,
  results,
  skipped,
  targets,
};
await writeFile(resultsFile, `${JSON.stringify(report, null, 2)}\n`);
log(`\nwrote ${path.relative(process.cwd(), resultsFile)}`);
await rm(tmp, { recursive: true, force: true });

/** --baseline: the paired scenarios' new/old ratios, then every scenario asked for that was not paired, and why. */
async function reportBaseline(ref: string): Promise<void> {
  const mb = (value: number | null): string => (value === null ? 'n/a' : value.toFixed(0));
  log('');
  log(`new = ${path.relative(repo, etl) || etl}, old = ${ref}; ratios are new/old, the median of run pairs (min-max)`);
  log(
    table(
      ['scenario', 'pairs', 'new (s)', 'old (s)', 'time new/old', 'spread', 'peak RSS new/old (MB)', 'RSS new/old', 'verdict'],
      paired.map((r) => [
        r.scenario,
        String(r.runs),
        r.newWallS.toFixed(2),
        r.oldWallS.toFixed(2),
        r.ratio.toFixed(2),
        `${r.ratioMin.toFixed(2)}-${r.ratioMax.toFixed(2)}`,
        `${mb(r.newPeakRssMb)} / ${mb(r.oldPeakRssMb)}`,
        r.rssRatio === null ? 'n/a' : r.rssRatio.toFixed(2),
        r.regression.length > 0 ? `REGRESSION (${r.regression.join(', ')})` : 'ok',
      ]),
    ),
  );
  for (const id of only ?? []) {
    if (![...paired, ...notPaired, ...skipped].some((r) => r.scenario === id)) notPaired.push({ scenario: id, reason: 'nothing ran under that name (a peer runs with its etl scenario)' });
  }
  for (const { scenario, reason } of [...notPaired, ...skipped]) log(`not paired ${scenario}: ${reason}`);
  const regressions = paired.filter((r) => r.regression.length > 0);
  log(regressions.length > 0 ? `\n${regressions.length} scenario(s) past ${REGRESSION_RATIO} x the baseline: ${regressions.map((r) => r.scenario).join(', ')}` : `\nno scenario past ${REGRESSION_RATIO} x the baseline`);
  const file = path.resolve(flag('json') ?? path.join(outDir, 'results-baseline.json'));
  await writeFile(file, `${JSON.stringify({ date: new Date().toISOString(), baseline: ref, cli: etl, runsPerScenario: runs, results: paired, notPaired: [...notPaired, ...skipped] }, null, 2)}\n`);
  log(`wrote ${path.relative(process.cwd(), file)}`);
  await rm(tmp, { recursive: true, force: true });
  if (regressions.length > 0) process.exitCode = 1;
}
