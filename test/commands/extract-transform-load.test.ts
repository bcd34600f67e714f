import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { extractCommand } from '../../src/commands/extract.js';
import { loadCommand } from '../../src/commands/load.js';
import { planCommand } from '../../src/commands/plan.js';
import { schemaCommand } from '../../src/commands/schema.js';
import { transformCommand } from '../../src/commands/transform.js';
import { ConfigError, DataError, LoadError } from '../../src/core/errors.js';
import { configJsonSchema } from '../../src/run/config-schema.js';
import { peoplePage } from '../fixtures/random-person/people.js';
import { json } from '../helpers/api-server.js';
import { useApiTestbed } from '../helpers/api-testbed.js';
import { startFileServer } from '../helpers/http-server.js';
import { PAGE, REFRESHED_PATH, buildOnsSite } from '../run/ons-site.js';
import { runInProcess } from '../helpers/command-in-process.js';
import { withEnv } from '../helpers/env.js';
import { readParquet } from '../helpers/parquet.js';

/**
 * `etl extract`, `transform`, `load`, `plan` and `schema` in-process, through the command layer (src/commands), against
 * a randomuser.me look-alike on 127.0.0.1 and a local folder as the bucket: what each prints, writes and throws.
 * The CLI forms (exit codes, stderr) are in test/e2e/random-person.test.ts and test/cli*.test.ts.
 */
const bed = useApiTestbed('commands-etl', (request) => {
  if (!request.path.startsWith('/api/')) return json(404, { error: 'not found' });
  const q = request.url.searchParams;
  return { status: 200, body: peoplePage({ results: Number(q.get('results')), seed: q.get('seed')!, page: Number(q.get('page')), nat: q.get('nat') ?? undefined }) };
});

const extractArgs = (...extra: string[]): string[] => ['random-person', 'people', '--base-url', bed.server.url, '--data-dir', bed.dataDir, '--rate-limit', '0', '--count', '7', '--seed', 'etl', ...extra];
const rawDir = (): string => path.join(bed.dataDir, 'raw', 'random-person', 'people');

describe('etl extract in-process', () => {
  it('downloads into the raw layer and says how many files and bytes; --json gives the same as one object', async () => {
    const first = await runInProcess(extractCommand, extractArgs());
    expect(first.error).toBeUndefined();
    const bytes = (await stat(path.join(rawDir(), 'page-00001.json'))).size;
    expect(bytes).toBe(Buffer.byteLength(peoplePage({ results: 7, seed: 'etl', page: 1 })));
    expect(first.stdout).toBe(`extract random-person people: 1 file, 1 downloaded (${bytes} bytes), 0 unchanged -> ${rawDir()}\n`);

    const second = await runInProcess(extractCommand, extractArgs(), { json: true });
    expect(second.error).toBeUndefined();
    const result = JSON.parse(second.stdout);
    // randomuser.me pages carry no ETag: a re-run fetches them again.
    expect(result).toMatchObject({ command: 'extract', source: 'random-person', dataset: 'people', raw_dir: rawDir(), editions: 1, downloaded: 1, unchanged: 0, bytes });
    expect(result.files).toHaveLength(1);
    expect(result.files[0]).toMatchObject({ file: 'page-00001.json', status: 'downloaded', bytes });
  });

  it('files the server says are unchanged (304) are counted apart, and add no bytes', async () => {
    const site = await buildOnsSite(bed.work);
    const server = await startFileServer(site.files);
    try {
      const args = ['ons', '--url', server.url + PAGE, '--data-dir', bed.dataDir, '--rate-limit', '0'];
      const dir = path.join(bed.dataDir, 'raw', 'ons', 'monthly-deaths');
      const first = await runInProcess(extractCommand, args, { json: true });
      expect(first.error).toBeUndefined();
      const files = JSON.parse(first.stdout).files as Array<{ bytes: number }>;
      expect(JSON.parse(first.stdout)).toMatchObject({ editions: 3, downloaded: 3, unchanged: 0, bytes: files.reduce((sum, f) => sum + f.bytes, 0) });
      server.set(REFRESHED_PATH, site.refreshed);
      const second = await runInProcess(extractCommand, args);
      expect(second.error).toBeUndefined();
      const refreshed = Buffer.byteLength(site.refreshed.body);
      expect(second.stdout).toBe(`extract ons monthly-deaths: 3 files, 1 downloaded (${refreshed} bytes), 2 unchanged -> ${dir}\n`);
    } finally {
      await server.close();
    }
  });

  it('sums the bytes of every page downloaded', async () => {
    const { stdout, error } = await runInProcess(extractCommand, [...extractArgs('--count', '10001')], { json: true });
    expect(error).toBeUndefined();
    const result = JSON.parse(stdout);
    const sizes = await Promise.all([1, 2, 3].map(async (page) => (await stat(path.join(rawDir(), `page-0000${page}.json`))).size));
    expect(result).toMatchObject({ editions: 3, downloaded: 3, unchanged: 0, bytes: sizes[0]! + sizes[1]! + sizes[2]! });
  });

  it('refuses a dataset the source does not have, an unknown source, no source, and another source\'s flag, before any request', async () => {
    const noDataset = await runInProcess(extractCommand, ['random-person', 'planets', '--data-dir', bed.dataDir]);
    expect(noDataset.error).toBeInstanceOf(ConfigError);
    expect((noDataset.error as Error).message).toBe('random-person has no dataset "planets"');
    expect((noDataset.error as ConfigError).hint).toBe('choose one of: people');

    const unknown = await runInProcess(extractCommand, ['nosuch']);
    expect(unknown.error).toBeInstanceOf(ConfigError);
    expect((unknown.error as Error).message).toBe('unknown source "nosuch"');
    expect((unknown.error as ConfigError).hint).toBe('choose one of: ons, climatempo, random-person, supermetrics, postgres');

    const none = await runInProcess(extractCommand, ['--data-dir', bed.dataDir]);
    expect((none.error as Error).message).toBe("missing required argument 'source'");
    expect((none.error as ConfigError).hint).toBe('etl extract --help lists the sources');

    const foreign = await runInProcess(extractCommand, ['random-person', '--city', '3477', '--data-dir', bed.dataDir]);
    expect(foreign.error).toBeInstanceOf(ConfigError);
    expect((foreign.error as Error).message).toBe("unknown option '--city' (it belongs to etl extract climatempo)");
    expect((foreign.error as ConfigError).hint).toBe('run etl extract random-person --help for usage');

    const typo = await runInProcess(extractCommand, ['random-person', '--seeds', 'x', '--data-dir', bed.dataDir]);
    expect((typo.error as Error).message).toBe("unknown option '--seeds' (Did you mean --seed?)");
    expect(bed.server.requests).toHaveLength(0);
    await expect(stat(bed.dataDir)).rejects.toThrow(/ENOENT/);
  });

  it('checks the base URL and the source\'s own flags before taking the lock or sending a request', async () => {
    const badUrl = await runInProcess(extractCommand, ['random-person', '--base-url', 'ftp://example.org/', '--data-dir', bed.dataDir]);
    expect(badUrl.error).toBeInstanceOf(ConfigError);
    expect((badUrl.error as Error).message).toMatch(/ftp:\/\/example\.org/);
    const badCount = await runInProcess(extractCommand, ['random-person', '--base-url', bed.server.url, '--count', 'many', '--data-dir', bed.dataDir]);
    expect(badCount.error).toBeInstanceOf(ConfigError);
    expect((badCount.error as Error).message).toMatch(/--count/);
    expect(bed.server.requests).toHaveLength(0);
    await expect(readdir(bed.dataDir)).rejects.toThrow(/ENOENT/);
  });

  it('--help is not an error of the source command', async () => {
    const help = await runInProcess(extractCommand, ['random-person', '--help']);
    expect(help.error).toMatchObject({ exitCode: 0, code: 'commander.helpDisplayed' });
  });
});

describe('etl transform in-process', () => {
  it('writes the default output under processed/, says rows and files, and records it for load', async () => {
    expect((await runInProcess(extractCommand, extractArgs())).error).toBeUndefined();
    const { stdout, error } = await runInProcess(transformCommand, ['random-person', 'people', '--data-dir', bed.dataDir]);
    expect(error).toBeUndefined();
    const out = path.join(bed.dataDir, 'processed', 'random-person', 'people.parquet');
    expect(stdout).toBe(`transform: 7 rows from 1 file -> ${out}\n`);
    expect((await readParquet(out)).rows).toHaveLength(7);
    const record = JSON.parse(await readFile(path.join(bed.dataDir, 'state', 'last-transform.json'), 'utf8'));
    expect(path.resolve(bed.dataDir, record.output)).toBe(out);
  });

  it('--json gives the summary; --out names the file', async () => {
    expect((await runInProcess(extractCommand, extractArgs())).error).toBeUndefined();
    const out = path.join(bed.dataDir, 'people.parquet');
    const { stdout, error } = await runInProcess(transformCommand, ['random-person', '--out', out, '--data-dir', bed.dataDir], { json: true });
    expect(error).toBeUndefined();
    expect(JSON.parse(stdout)).toEqual({ command: 'transform', path: out, rows: 7, parts: [{ name: 'raw/random-person/people/page-00001.json', rows: 7 }], skipped: [] });
  });

  it('with no source named, transforms the one dataset the data dir holds (--data-dir as two words, as one, or ETL_DATA_DIR)', async () => {
    expect((await runInProcess(extractCommand, extractArgs())).error).toBeUndefined();
    const out = path.join(bed.dataDir, 'processed', 'random-person', 'people.parquet');
    const twoWords = await runInProcess(transformCommand, ['--data-dir', bed.dataDir]);
    expect(twoWords.error).toBeUndefined();
    expect(twoWords.stdout).toBe(`transform: 7 rows from 1 file -> ${out}\n`);
    const oneWord = await runInProcess(transformCommand, [`--data-dir=${bed.dataDir}`, '--out', path.join(bed.dataDir, 'a.parquet')]);
    expect(oneWord.error).toBeUndefined();
    expect(oneWord.stdout).toBe(`transform: 7 rows from 1 file -> ${path.join(bed.dataDir, 'a.parquet')}\n`);
    const fromEnv = await withEnv({ ETL_DATA_DIR: bed.dataDir }, () => runInProcess(transformCommand, ['--out', path.join(bed.dataDir, 'b.parquet')]));
    expect(fromEnv.error).toBeUndefined();
    expect(fromEnv.stdout).toBe(`transform: 7 rows from 1 file -> ${path.join(bed.dataDir, 'b.parquet')}\n`);
    // A --data-dir with no value after it is not taken as a folder: ./data is read, which holds nothing here.
    const dangling = await withEnv({ ETL_DATA_DIR: path.join(bed.dataDir, 'empty') }, () => runInProcess(transformCommand, ['--out', 'x.parquet', '--data-dir']));
    expect(dangling.error).toBeInstanceOf(ConfigError);
    expect((dangling.error as Error).message).toContain(path.join(bed.dataDir, 'empty'));
  });

  it('a raw file changed after extract is a data error, and nothing is written', async () => {
    expect((await runInProcess(extractCommand, extractArgs())).error).toBeUndefined();
    await writeFile(path.join(rawDir(), 'page-00001.json'), '{"results":[]}');
    const out = path.join(bed.dataDir, 'changed.parquet');
    const { error, stdout } = await runInProcess(transformCommand, ['random-person', '--out', out, '--data-dir', bed.dataDir]);
    expect(error).toBeInstanceOf(DataError);
    expect(stdout).toBe('');
    await expect(stat(out)).rejects.toThrow(/ENOENT/);
  });
});

describe('etl load in-process', () => {
  async function transformed(): Promise<string> {
    expect((await runInProcess(extractCommand, extractArgs())).error).toBeUndefined();
    expect((await runInProcess(transformCommand, ['random-person', '--data-dir', bed.dataDir])).error).toBeUndefined();
    return path.join(bed.dataDir, 'processed', 'random-person', 'people.parquet');
  }

  it('with no paths uploads what the last transform wrote; a second run skips it; --force uploads it again', async () => {
    const out = await transformed();
    const lake = path.join(bed.dataDir, 'lake');
    const bytes = (await stat(out)).size;
    const first = await runInProcess(loadCommand, ['--bucket', lake + '/', '--data-dir', bed.dataDir], { json: true });
    expect(first.error).toBeUndefined();
    const result = JSON.parse(first.stdout);
    expect(result).toMatchObject({ command: 'load', destination: `file://${lake}/`, dry_run: false, uploaded: 1, skipped: 0, failed: 0, bytes_uploaded: bytes });
    expect(result.files).toEqual([{ path: out, uri: `file://${lake}/people.parquet`, action: 'uploaded', reason: expect.any(String), bytes, method: expect.any(String), parts: 1, verified_with: expect.any(String) }]);
    expect(typeof result.seconds).toBe('number');
    expect(await readFile(path.join(lake, 'people.parquet'))).toEqual(await readFile(out));

    const again = await runInProcess(loadCommand, ['--bucket', lake + '/', '--data-dir', bed.dataDir]);
    expect(again.error).toBeUndefined();
    expect(again.stdout).toMatch(new RegExp(`^0 uploaded, 1 skipped \\(already there\\), 0 failed; 0 B to file://${lake}/ in \\d+\\.\\d s\\n$`));

    const forced = await runInProcess(loadCommand, ['--to', lake + '/', '--force', '--data-dir', bed.dataDir], { json: true });
    expect(JSON.parse(forced.stdout)).toMatchObject({ uploaded: 1, skipped: 0 });
  });

  it('--dry-run lists each file with what would happen and why, and writes nothing', async () => {
    const out = await transformed();
    const lake = path.join(bed.dataDir, 'dry');
    const dry = await runInProcess(loadCommand, [out, '--bucket', lake + '/', '--dry-run', '--key', 'x/{name}']);
    expect(dry.error).toBeUndefined();
    const lines = dry.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^upload ${out.replace(/[.]/g, '\\.')} -> file://${lake}/x/people\\.parquet \\(.+\\)$`));
    expect(lines[1]).toMatch(/^dry run: 1 would upload \(.+\), 0 would skip, 0 failed; nothing sent to file:\/\//);
    await expect(stat(lake)).rejects.toThrow(/ENOENT/);

    // The same file already there: skip, with two spaces so the paths line up.
    await mkdir(path.join(lake, 'x'), { recursive: true });
    await writeFile(path.join(lake, 'x', 'people.parquet'), await readFile(out));
    const skip = await runInProcess(loadCommand, [out, '--bucket', lake + '/', '--dry-run', '--key', 'x/{name}'], { json: true });
    expect(JSON.parse(skip.stdout)).toMatchObject({ dry_run: true, uploaded: 0, skipped: 1, files: [{ action: 'would-skip' }] });
    const skipText = await runInProcess(loadCommand, [out, '--bucket', lake + '/', '--dry-run', '--key', 'x/{name}']);
    expect(skipText.stdout.split('\n')[0]).toMatch(new RegExp(`^skip   ${out.replace(/[.]/g, '\\.')} -> `));
  });

  it('a failed file: the result is printed, then a load error (exit 5) naming it', async () => {
    const out = await transformed();
    const lake = path.join(bed.dataDir, 'blocked');
    await mkdir(lake, { recursive: true });
    // A folder where the object should go: the upload fails.
    await mkdir(path.join(lake, 'people.parquet'));
    const failed = await runInProcess(loadCommand, [out, '--bucket', lake + '/'], { json: true });
    expect(failed.error).toBeInstanceOf(LoadError);
    expect((failed.error as LoadError).exitCode).toBe(5);
    expect((failed.error as Error).message).toContain(out);
    expect(JSON.parse(failed.stdout)).toMatchObject({ uploaded: 0, failed: 1, files: [{ path: out, action: 'failed' }] });
  });

  it('no destination is a usage error before anything is read', async () => {
    const { error } = await runInProcess(loadCommand, ['--data-dir', path.join(bed.dataDir, 'nothing')]);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe('name a destination with --to (gs://bucket/prefix/, s3://bucket/prefix/, ./dir/, or postgres://host/db with --table), or --bucket');
    expect((error as ConfigError).hint).toBe('run etl load --help for usage');
  });

  it('--concurrency takes a whole number of 1 or more', async () => {
    const { error } = await runInProcess(loadCommand, ['x.parquet', '--bucket', './lake/', '--concurrency', '0']);
    expect((error as Error).message).toMatch(/expected a whole number of 1 or more, in decimal digits/);
  });
});

describe('etl plan and etl schema in-process', () => {
  it('plan says what run would do, without fetching', async () => {
    const lake = path.join(bed.dataDir, 'lake');
    const { stdout, error } = await runInProcess(planCommand, ['random-person', '--base-url', bed.server.url, '--count', '7', '--seed', 'etl', '--data-dir', bed.dataDir, '--bucket', lake + '/'], { json: true });
    expect(error).toBeUndefined();
    const plan = JSON.parse(stdout);
    expect(plan.command).toBe('plan');
    expect(plan.steps.map((s: { name: string; action: string }) => [s.name, s.action])).toEqual([
      ['extract', 'run'],
      ['transform', 'run'],
      ['load', 'run'],
    ]);
    expect(bed.server.requests).toHaveLength(0);
    const text = await runInProcess(planCommand, ['random-person', '--data-dir', bed.dataDir]);
    expect(text.stdout).toBe(
      [
        'plan for random-person/people (nothing fetched, written or uploaded):',
        '  extract   run    nothing extracted yet: every edition is downloaded',
        '  transform run    no earlier successful run',
        `  load      skip   no --bucket: the parquet stays in ${path.join(bed.dataDir, 'processed', 'random-person')}`,
        '',
      ].join('\n'),
    );
  });

  it('schema prints the config JSON Schema, indented, or as one JSON line', async () => {
    const text = await runInProcess(schemaCommand, []);
    expect(text.stdout).toBe(JSON.stringify(configJsonSchema(), null, 2) + '\n');
    const line = await runInProcess(schemaCommand, [], { json: true });
    expect(line.stdout).toBe(JSON.stringify(configJsonSchema()) + '\n');
  });
});
