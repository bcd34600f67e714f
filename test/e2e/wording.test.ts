import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sources } from '../../src/sources/index.js';
import { monthlySheets } from '../fixtures/ons/monthly-workbook.js';
import { startFileServer } from '../helpers/http-server.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { runCli } from '../helpers/run-cli.js';
import { writeWorkbook } from '../helpers/workbook-writer.js';

/**
 * Issue 20 item 15: the words a newcomer reads, each checked as the CLI prints them. Each test's first run is a
 * process; the others go through the CLI's main in-process (test/helpers/cli-in-process.ts), the same words.
 */
let work: string;
let workbook: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-wording-'));
  workbook = path.join(work, 'Monthly2019Mortality.xlsx');
  await writeWorkbook(workbook, monthlySheets({ year: 2019 }));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const lastLine = (text: string): string => text.trim().split('\n').at(-1)!;

describe('error kinds are words, not class names', () => {
  it('a 404 is a "source error" (was "httpstatus error"), plain and --json', async () => {
    const server = await startFileServer({});
    try {
      const plain = await runCli(['extract', 'ons', '--url', `${server.url}/gone`, '--data-dir', path.join(work, 'gone')]);
      expect(plain.code).toBe(3);
      expect(lastLine(plain.stderr)).toMatch(/^etl: source error: GET http:\/\/127\.0\.0\.1:\d+\/gone answered HTTP 404 /);
      const json = await runCliInProcess(['--json', 'extract', 'ons', '--url', `${server.url}/gone`, '--data-dir', path.join(work, 'gone')]);
      expect(JSON.parse(lastLine(json.stderr))).toMatchObject({ kind: 'source error', exit_code: 3 });
    } finally {
      await server.close();
    }
  });
});

describe('network hints name the flag the source has', () => {
  it('an API source says --base-url and how to try it offline; ONS says --url and --input', async () => {
    const api = await runCli(['extract', 'random-person', 'people', '--count', '3', '--seed', 's', '--base-url', 'http://etl-test.invalid/', '--data-dir', path.join(work, 'dns')]);
    expect(api.code).toBe(3);
    expect(lastLine(api.stderr)).toMatch(/cannot resolve host etl-test\.invalid .*\(check the network \(DNS, proxy, offline\?\) and the host name in --base-url; offline, point --base-url at a stand-in server \(README: Try it offline\)\)$/);
    expect(api.stderr).not.toMatch(/--url\b/);
    const ons = await runCliInProcess(['extract', 'ons', '--url', 'http://etl-test.invalid/page', '--data-dir', path.join(work, 'dns')]);
    expect(ons.code).toBe(3);
    expect(lastLine(ons.stderr)).toMatch(/and the host name in --url; offline, transform workbooks you already have: etl transform ons --input <files or folder>\)$/);
  });
});

describe('help per stage, columns as declared', () => {
  it('extract help says nothing of transform; transform help lists every declared column and no extract-only flag', async () => {
    for (const source of sources) {
      const extract = (await runCliInProcess(['extract', source.name, '--help'])).stdout;
      const transform = (await runCliInProcess(['transform', source.name, '--help'])).stdout;
      expect(extract, source.name).not.toMatch(/Output|\$ etl transform/);
      expect(transform, source.name).not.toMatch(/\$ etl extract|If-None-Match|--max-links|--base-url|--retries/);
      // Each dataset's columns as declared, in order (a long list is cut, and says how many more).
      for (const dataset of source.datasets) {
        const line = transform.replace(/\n {4}/g, ' ').split('\n').find((l) => l.startsWith(`  ${dataset.name}: `));
        expect(line, `${source.name} ${dataset.name}`).toBeDefined();
        const shown = line!.slice(`  ${dataset.name}: `.length).split(', ').filter((c) => !c.startsWith('…'));
        expect(shown.length).toBeGreaterThan(0);
        expect(shown).toEqual(dataset.columns.slice(0, shown.length).map((c) => `${c.name} ${c.type.toUpperCase()}${c.nullable ? '?' : ''}`));
        if (shown.length < dataset.columns.length) expect(line).toContain(`… (${dataset.columns.length - shown.length} more)`);
      }
    }
    const onsTransform = (await runCliInProcess(['transform', 'ons', '--help'])).stdout;
    for (const column of ['area_name STRING?', 'geo_level STRING', 'geo_code_extra STRING?']) expect(onsTransform).toContain(column);
  });
});

describe('etl transform with no source', () => {
  it('alone behaves as with flags: transforms what the data dir holds, and says so when it holds nothing', async () => {
    const empty = path.join(work, 'empty');
    const alone = await runCli(['transform'], { cwd: work, env: { ETL_DATA_DIR: empty } });
    const withOut = await runCliInProcess(['transform', '--out', 'x.parquet'], { cwd: work, env: { ETL_DATA_DIR: empty } });
    expect(alone.code).toBe(2);
    expect(alone.stderr).not.toContain("missing required argument 'source'");
    expect(lastLine(alone.stderr)).toBe(lastLine(withOut.stderr));
    expect((await runCliInProcess(['transform', '--help'])).stdout).toMatch(/^Usage: etl transform \[source\] \[dataset\] \[options\]/);
    expect((await runCliInProcess(['extract'])).stderr).toContain("missing required argument 'source'");
  });
});

describe('a run: its manifest, its one line, its plan', () => {
  it('keeps the key template, counts in the right number, and plan names the flag that changed from what to what', async () => {
    const dataDir = path.join(work, 'run');
    const lake = path.join(work, 'lake');
    const run = await runCli(['run', 'ons', '--input', workbook, '--data-dir', dataDir, '--bucket', lake, '--key', '{name}']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/transform succeeded \(\d+ rows, 1 input file\), load succeeded \(1 uploaded, 0 failed, \d+ bytes uploaded\)/);
    const [manifestName] = await readdir(path.join(dataDir, 'runs'));
    const manifest = JSON.parse(await readFile(path.join(dataDir, 'runs', manifestName!), 'utf8')) as { params: Record<string, unknown> };
    expect(manifest.params.key).toBe('{name}');

    const transform = await runCliInProcess(['transform', 'ons', '--input', workbook, '--out', path.join(work, 'one.parquet')]);
    expect(transform.stdout).toMatch(/^transform: \d+ rows from 1 file -> /);

    const plan = await runCliInProcess(['plan', 'ons', '--input', workbook, '--data-dir', dataDir, '--bucket', lake, '--key', '{name}', '--drop-unpublished']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/transform +run +--drop-unpublished \(none\) -> true/);
    const moved = await runCliInProcess(['plan', 'ons', '--input', workbook, '--data-dir', dataDir, '--bucket', lake, '--key', 'ons/{name}']);
    expect(moved.stdout).toMatch(/load +run +parameter key \{name\} -> ons\/\{name\}/);
  });
});

describe('config files', () => {
  it("a missing input: is named with transform's words, not load's", async () => {
    const config = path.join(work, 'missing-input.yaml');
    await writeFile(config, `pipelines:\n  monthly:\n    source: ons\n    options: { input: [${path.join(work, 'nowhere.xls')}] }\n`);
    for (const command of ['run', 'plan']) {
      const result = await (command === 'run' ? runCli : runCliInProcess)([command, '--config', config, '--data-dir', path.join(work, 'cfg')]);
      expect(result.code).toBe(2);
      expect(lastLine(result.stderr)).toMatch(/^etl: config error: --input .*nowhere\.xls: no such file or directory \(give workbooks or directories that exist/);
      expect(result.stderr).not.toContain('upload');
    }
  });

  it('etl runs --config lists the runs of that file\'s pipelines, from its data_dir; runs show finds them there', async () => {
    const dataDir = path.join(work, 'runs-config');
    const config = path.join(work, 'runs.yaml');
    await mkdir(dataDir, { recursive: true });
    await writeFile(config, `data_dir: ${dataDir}\npipelines:\n  monthly:\n    source: ons\n    options: { input: [${workbook}] }\n`);
    expect((await runCli(['run', '--config', config], { cwd: work })).code).toBe(0);
    expect((await runCliInProcess(['run', 'ons', '--input', workbook, '--data-dir', dataDir])).code).toBe(0);
    const all = await runCliInProcess(['runs', '--data-dir', dataDir]);
    expect(all.stdout.trim().split('\n')).toHaveLength(2);
    const mine = await runCliInProcess(['runs', '--config', config], { cwd: work });
    expect(mine.code, mine.stderr).toBe(0);
    const lines = mine.stdout.trim().split('\n');
    expect(lines).toEqual([expect.stringMatching(/^\S+-monthly-\w+ {2}monthly {2}succeeded /)]);
    const show = await runCliInProcess(['runs', '--config', config, 'show', lines[0]!.split(' ')[0]!], { cwd: work });
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ pipeline: 'monthly', status: 'succeeded' });
  });
});
