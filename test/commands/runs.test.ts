import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCommandContext, type CommandContext } from '../../src/commands/context.js';
import { runsCommand } from '../../src/commands/runs.js';
import { ConfigError, DataError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/log.js';
import { deltaTxnVersion, newRunId, parseRunManifest, readRun, writeRunManifest, type RunManifest } from '../../src/run/run-manifest.js';

/**
 * `etl runs` and `etl runs show` in-process (src/commands/runs.ts over src/run/run-manifest.ts), so that Stryker
 * sees their mutants: what a cron user reads the morning after. The CLI form is in test/run/pipeline.test.ts.
 */
let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-runs-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

async function inProcess(args: string[], json = false): Promise<{ stdout: string; warnings: string[] }> {
  let stdout = '';
  const warnings: string[] = [];
  const out = { write: (text: string) => ((stdout += text), true) } as unknown as NodeJS.WritableStream;
  const stream = { write: (line: string) => (warnings.push(line.trimEnd()), true) } as unknown as NodeJS.WritableStream;
  const context: CommandContext = { ...(await createCommandContext({ json, debug: false, quiet: true }, out)), log: createLogger({ quiet: true, stream, interactive: false }) };
  const command: Command = runsCommand(async () => context);
  await command.exitOverride().configureOutput({ outputError: () => {} }).parseAsync(args, { from: 'user' });
  return { stdout, warnings };
}

function manifest(runId: string, pipeline: string, status: RunManifest['status'], started: string, ended: string | null): RunManifest {
  return {
    run_id: runId,
    pipeline,
    params: {},
    etl_version: '0.1.0',
    pid: 1,
    status,
    started_at: started,
    ended_at: ended,
    steps: [
      { name: 'extract', status: 'succeeded', started_at: started, duration_s: 1, attempts: 1, cache: 'ran', inputs: [], outputs: [] },
      { name: 'transform', status: status === 'failed' ? 'failed' : 'cached', started_at: started, duration_s: 0, attempts: 1, cache: 'cached', inputs: [], outputs: [] },
    ],
  };
}

let count = 0;
async function dataDirWithRuns(): Promise<{ dir: string; runs: RunManifest[] }> {
  const dir = path.join(work, `data-${++count}`);
  const runs = [
    manifest('20261204T061500000Z-ons-monthly-deaths-aaaa', 'ons/monthly-deaths', 'succeeded', '2026-12-04T06:15:00.000Z', '2026-12-04T06:15:12.340Z'),
    manifest('20261205T061500000Z-ons-weekly-deaths-bbbb', 'ons/weekly-deaths', 'failed', '2026-12-05T06:15:00.000Z', '2026-12-05T06:16:40.000Z'),
    manifest('20261206T061500000Z-ons-monthly-deaths-cccc', 'ons/monthly-deaths', 'running', '2026-12-06T06:15:00.000Z', null),
  ];
  for (const run of runs) await writeRunManifest(dir, run);
  return { dir, runs };
}

describe('etl runs', () => {
  it('lists the runs newest first: id, pipeline, status, start, duration and each step', async () => {
    const { dir } = await dataDirWithRuns();
    const { stdout, warnings } = await inProcess(['--data-dir', dir]);
    expect(stdout).toBe(
      [
        '20261206T061500000Z-ons-monthly-deaths-cccc  ons/monthly-deaths  running    2026-12-06T06:15:00.000Z         -  extract succeeded, transform cached',
        '20261205T061500000Z-ons-weekly-deaths-bbbb  ons/weekly-deaths  failed     2026-12-05T06:15:00.000Z   100.0 s  extract succeeded, transform failed',
        '20261204T061500000Z-ons-monthly-deaths-aaaa  ons/monthly-deaths  succeeded  2026-12-04T06:15:00.000Z    12.3 s  extract succeeded, transform cached',
      ].join('\n') + '\n',
    );
    expect(warnings).toEqual([]);
  });

  it('--limit keeps the newest; --json gives the same runs as objects', async () => {
    const { dir } = await dataDirWithRuns();
    expect((await inProcess(['--data-dir', dir, '--limit', '1'])).stdout.split('\n').filter(Boolean)).toEqual([expect.stringMatching(/^20261206T061500000Z-ons-monthly-deaths-cccc /)]);
    const json = JSON.parse((await inProcess(['--data-dir', dir, '--limit', '2'], true)).stdout);
    expect(json).toEqual({
      command: 'runs',
      damaged: [],
      runs: [
        { run_id: '20261206T061500000Z-ons-monthly-deaths-cccc', pipeline: 'ons/monthly-deaths', status: 'running', started_at: '2026-12-06T06:15:00.000Z', ended_at: null, steps: [{ name: 'extract', status: 'succeeded' }, { name: 'transform', status: 'cached' }] },
        { run_id: '20261205T061500000Z-ons-weekly-deaths-bbbb', pipeline: 'ons/weekly-deaths', status: 'failed', started_at: '2026-12-05T06:15:00.000Z', ended_at: '2026-12-05T06:16:40.000Z', steps: [{ name: 'extract', status: 'succeeded' }, { name: 'transform', status: 'failed' }] },
      ],
    });
    await expect(inProcess(['--data-dir', dir, '--limit', '0'])).rejects.toThrow();
  });

  it('a damaged file in runs/ is named with its problem and left out; temp files and other names are not read', async () => {
    const { dir } = await dataDirWithRuns();
    const runs = path.join(dir, 'runs');
    await writeFile(path.join(runs, '20261207T000000000Z-cut.json'), '{"run_id": "20261207T0');
    await writeFile(path.join(runs, '20261208T000000000Z-list.json'), '[]');
    await writeFile(path.join(runs, '20261209T000000000Z-bad-status.json'), JSON.stringify({ ...manifest('x', 'p', 'succeeded', 's', null), status: 'done' }));
    await writeFile(path.join(runs, '20261210T000000000Z-x.json.tmp-123-abcd'), 'not json');
    await writeFile(path.join(runs, 'notes.txt'), 'not json');
    await mkdir(path.join(runs, '20261211T000000000Z-folder.json'));
    const { stdout, warnings } = await inProcess(['--data-dir', dir, '--limit', '3']);
    expect(stdout.split('\n').filter(Boolean).map((line) => line.split(' ')[0])).toEqual([
      '20261206T061500000Z-ons-monthly-deaths-cccc',
      '20261205T061500000Z-ons-weekly-deaths-bbbb',
      '20261204T061500000Z-ons-monthly-deaths-aaaa',
    ]);
    expect(warnings).toEqual([
      expect.stringMatching(new RegExp(`^warn: ${path.join(runs, '20261211T000000000Z-folder.json').replace(/[.]/g, '\\.')} cannot be read \\(.*EISDIR.*\\); left out$`)),
      `warn: ${path.join(runs, '20261209T000000000Z-bad-status.json')} is not a run manifest etl wrote: status is not one of running, succeeded, failed, interrupted; left out`,
      `warn: ${path.join(runs, '20261208T000000000Z-list.json')} is not a run manifest etl wrote: expected an object, got an array; left out`,
      expect.stringMatching(new RegExp(`^warn: ${path.join(runs, '20261207T000000000Z-cut.json').replace(/[.]/g, '\\.')} is not a run manifest etl wrote: not JSON \\(.+\\); left out$`)),
    ]);
  });

  it('no runs: says where it looked', async () => {
    const dir = path.join(work, 'empty');
    expect((await inProcess(['--data-dir', dir])).stdout).toBe(`no runs recorded in ${dir}/runs\n`);
  });

  it('--config: only the runs of its pipelines, from the data dir it names', async () => {
    const { dir } = await dataDirWithRuns();
    const weekly = manifest('20261203T061500000Z-weekly-dddd', 'weekly', 'succeeded', '2026-12-03T06:15:00.000Z', '2026-12-03T06:15:01.000Z');
    await writeRunManifest(dir, weekly);
    const config = path.join(work, `etl-${count}.json`);
    await writeFile(config, JSON.stringify({ data_dir: dir, pipelines: { weekly: { source: 'ons', dataset: 'weekly-deaths' } } }));
    const { stdout } = await inProcess(['--config', config]);
    expect(stdout.split('\n').filter(Boolean).map((line) => line.split(' ')[0])).toEqual([weekly.run_id]);
    expect((await inProcess(['--config', config, 'show', weekly.run_id], true)).stdout).toBe(JSON.stringify(weekly) + '\n');
    // --data-dir given wins over the config's data_dir.
    expect((await inProcess(['--config', config, '--data-dir', path.join(work, 'elsewhere')])).stdout).toBe(`no runs recorded in ${path.join(work, 'elsewhere')}/runs for weekly\n`);
  });
  it('--config naming two data dirs: the runs of both, merged newest first, --limit over the whole; show finds a run in either', async () => {
    const [a, b] = [path.join(work, 'two-a'), path.join(work, 'two-b')];
    const runs = [
      manifest('20261201T000000000Z-one-aaaa', 'one', 'succeeded', '2026-12-01T00:00:00.000Z', '2026-12-01T00:00:01.000Z'),
      manifest('20261203T000000000Z-one-bbbb', 'one', 'succeeded', '2026-12-03T00:00:00.000Z', '2026-12-03T00:00:01.000Z'),
      manifest('20261202T000000000Z-two-cccc', 'two', 'failed', '2026-12-02T00:00:00.000Z', '2026-12-02T00:00:01.000Z'),
      manifest('20261204T000000000Z-two-dddd', 'two', 'succeeded', '2026-12-04T00:00:00.000Z', '2026-12-04T00:00:01.000Z'),
    ];
    for (const run of runs.slice(0, 2)) await writeRunManifest(a, run);
    for (const run of runs.slice(2)) await writeRunManifest(b, run);
    const config = path.join(work, 'two-dirs.json');
    await writeFile(config, JSON.stringify({ pipelines: { one: { source: 'ons', data_dir: a }, two: { source: 'ons', data_dir: b } } }));
    const ids = async (args: string[]) => (await inProcess(['--config', config, ...args])).stdout.split('\n').filter(Boolean).map((line) => line.split(' ')[0]);
    expect(await ids([])).toEqual(['20261204T000000000Z-two-dddd', '20261203T000000000Z-one-bbbb', '20261202T000000000Z-two-cccc', '20261201T000000000Z-one-aaaa']);
    expect(await ids(['--limit', '3'])).toEqual(['20261204T000000000Z-two-dddd', '20261203T000000000Z-one-bbbb', '20261202T000000000Z-two-cccc']);
    expect(JSON.parse((await inProcess(['--config', config, 'show', '20261202T000000000Z-two-cccc'], true)).stdout)).toEqual(runs[2]);
    expect(JSON.parse((await inProcess(['--config', config, 'show', '20261201T000000000Z-one-aaaa'], true)).stdout)).toEqual(runs[0]);
    // In neither: the error names the first data dir.
    await expect(inProcess(['--config', config, 'show', '20261209T000000000Z-none'])).rejects.toThrow(`no run 20261209T000000000Z-none in ${path.join(a, 'runs')}`);
    expect((await inProcess(['--config', path.join(work, 'two-dirs.json'), '--data-dir', path.join(work, 'nowhere')])).stdout).toBe(`no runs recorded in ${path.join(work, 'nowhere')}/runs for one, two\n`);
    await writeFile(config, JSON.stringify({ pipelines: { one: { source: 'ons', data_dir: path.join(work, 'gone-1') }, two: { source: 'ons', data_dir: path.join(work, 'gone-2') } } }));
    expect((await inProcess(['--config', config])).stdout).toBe(`no runs recorded in ${path.join(work, 'gone-1')}/runs, ${path.join(work, 'gone-2')}/runs for one, two\n`);
  });
});

describe('etl runs show', () => {
  it('prints the whole manifest of one run', async () => {
    const { dir, runs } = await dataDirWithRuns();
    const { stdout } = await inProcess(['--data-dir', dir, 'show', runs[1]!.run_id], true);
    expect(JSON.parse(stdout)).toEqual(runs[1]);
    expect((await inProcess(['--data-dir', dir, 'show', runs[0]!.run_id])).stdout).toBe(JSON.stringify(runs[0], null, 2) + '\n');
  });

  it('an unknown id, or one that is not a run id, is a config error saying what to do', async () => {
    const { dir } = await dataDirWithRuns();
    const unknown = await inProcess(['--data-dir', dir, 'show', '20261201T000000000Z-none']).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(ConfigError);
    expect((unknown as Error).message).toBe(`no run 20261201T000000000Z-none in ${path.join(dir, 'runs')}`);
    expect((unknown as ConfigError).hint).toBe('list them with `etl runs` and the same --data-dir');
    const traversal = await readRun(dir, '../state/last-transform').catch((e: unknown) => e);
    expect(traversal).toBeInstanceOf(ConfigError);
    expect((traversal as Error).message).toBe('"../state/last-transform" is not a run id');
    expect((traversal as ConfigError).hint).toBe('run `etl runs` to list them');
    await expect(readRun(dir, 'a b')).rejects.toThrow('"a b" is not a run id');
  });
});

describe('parseRunManifest', () => {
  const good = manifest('r', 'p', 'interrupted', 's', 'e');
  it.each([
    ['not JSON', '{', /^f is not a run manifest etl wrote: not JSON \(/],
    ['null', 'null', /: expected an object, got null$/],
    ['a string', '"x"', /: expected an object, got "x"$/],
    ['no run_id', JSON.stringify({ ...good, run_id: 1 }), /: run_id is not a string$/],
    ['no pipeline', JSON.stringify({ ...good, pipeline: null }), /: pipeline is not a string$/],
    ['no started_at', JSON.stringify({ ...good, started_at: undefined }), /: started_at is not a string$/],
    ['a bad ended_at', JSON.stringify({ ...good, ended_at: 5 }), /: ended_at is neither a time nor null$/],
    ['no steps', JSON.stringify({ ...good, steps: {} }), /: steps is not a list$/],
    ['a step without a name', JSON.stringify({ ...good, steps: [good.steps[0], { status: 'failed' }] }), /: steps\[1\] has no name and status$/],
    ['a step without a status', JSON.stringify({ ...good, steps: [{ name: 'load', status: 3 }] }), /: steps\[0\] has no name and status$/],
    ['a step that is a list', JSON.stringify({ ...good, steps: [[]] }), /: steps\[0\] has no name and status$/],
  ])('%s: a data error naming the file and the field', (_what, text, problem) => {
    let error: unknown;
    try {
      parseRunManifest(text, 'f');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DataError);
    expect((error as Error).message).toMatch(problem);
    expect((error as Error).message.startsWith('f is not a run manifest etl wrote: ')).toBe(true);
    expect((error as DataError).hint).toBe('move it out of the runs folder; etl writes a new manifest for each run');
  });

  it('accepts each status and a null end', () => {
    for (const status of ['running', 'succeeded', 'failed', 'interrupted'] as const) expect(parseRunManifest(JSON.stringify({ ...good, status }), 'f').status).toBe(status);
    expect(parseRunManifest(JSON.stringify({ ...good, ended_at: null, steps: [] }), 'f').ended_at).toBeNull();
  });

  it('run ids sort by time to the millisecond and name the pipeline', () => {
    const id = newRunId('ons-monthly-deaths', new Date('2026-12-01T06:15:00.123Z'));
    expect(id).toMatch(/^20261201T061500123Z-ons-monthly-deaths-[0-9a-f]{4}$/);
    expect(newRunId('p', new Date('2026-12-01T06:15:00.123Z'))).not.toBe(newRunId('p', new Date('2026-12-01T06:15:00.123Z')).replace(/.$/, 'x'));
  });

  it('deltaTxnVersion: the start in ms x 1000 plus the run id\'s 4-hex suffix mod 1000; no such suffix adds nothing', () => {
    const startedAt = '2026-12-01T06:15:00.123Z';
    const ms = Date.parse(startedAt);
    const version = (suffix: string) => deltaTxnVersion({ run_id: `20261201T061500123Z-ons-monthly-deaths${suffix}`, started_at: startedAt });
    expect(version('-0000')).toBe(ms * 1000);
    expect(version('-03e7')).toBe(ms * 1000 + 999);
    expect(version('-03e8')).toBe(ms * 1000);
    expect(version('-ffff')).toBe(ms * 1000 + 535);
    expect(version('-a1b2')).toBe(ms * 1000 + (0xa1b2 % 1000));
    // Only a run id's own ending counts: 4 lower-case hex digits after the last '-'.
    for (const notASuffix of ['', '-fff', '-fffff', '-FFFF', '-ffff-x', '-fffg', 'ffff']) expect(version(notASuffix), notASuffix).toBe(ms * 1000);
    // Later runs get larger versions whatever their suffixes.
    expect(deltaTxnVersion({ run_id: 'x-0000', started_at: '2026-12-01T06:15:00.124Z' })).toBeGreaterThan(version('-03e7'));
    expect(Number.isSafeInteger(version('-ffff'))).toBe(true);
  });
});
