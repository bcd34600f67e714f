import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCommandContext, logFileStream } from '../../src/commands/context.js';
import { runCommand } from '../../src/commands/run.js';
import { ConfigError } from '../../src/core/errors.js';
import { peoplePage } from '../fixtures/random-person/people.js';
import { json } from '../helpers/api-server.js';
import { useApiTestbed } from '../helpers/api-testbed.js';
import { runInProcess } from '../helpers/command-in-process.js';

/**
 * `etl run` (src/commands/run.ts: the line a cron run prints, --dry-run) and the command context (src/commands/context.ts:
 * stdout, --json, --log-file) in-process, against a randomuser.me look-alike on 127.0.0.1 and a folder as the bucket.
 */
const bed = useApiTestbed('commands-run', (request) => {
  if (!request.path.startsWith('/api/')) return json(404, { error: 'not found' });
  const q = request.url.searchParams;
  return { status: 200, body: peoplePage({ results: Number(q.get('results')), seed: q.get('seed')!, page: Number(q.get('page')), nat: q.get('nat') ?? undefined }) };
});

afterEach(() => {
  vi.restoreAllMocks();
});

const runArgs = (...extra: string[]): string[] => ['random-person', '--base-url', bed.server.url, '--count', '7', '--seed', 'etl', '--rate-limit', '0', '--data-dir', bed.dataDir, ...extra];

describe('etl run in-process: what it prints', () => {
  it('one line: the run id, then each step with its counts in words; the second run is cached', async () => {
    const lake = path.join(bed.dataDir, 'lake');
    const first = await runInProcess(runCommand, runArgs('--bucket', lake + '/'));
    expect(first.error).toBeUndefined();
    const bytes = (await readFile(path.join(lake, 'people.parquet'))).length;
    expect(first.stdout).toMatch(/^run \d{8}T\d{9}Z-random-person-people-[0-9a-f]+: /);
    expect(first.stdout.replace(/^run [^:]+: /, '')).toBe(
      `extract succeeded (1 downloaded, 0 unchanged), transform succeeded (7 rows, 1 input file), load succeeded (1 uploaded, 0 failed, ${bytes} bytes uploaded)\n`,
    );
    const second = await runInProcess(runCommand, runArgs('--bucket', lake + '/'));
    expect(second.error).toBeUndefined();
    expect(second.stdout.replace(/^run [^:]+: /, '')).toBe('extract succeeded (1 downloaded, 0 unchanged), transform cached, load cached\n');
    const third = await runInProcess(runCommand, runArgs('--bucket', lake + '/'), { json: true });
    const manifest = JSON.parse(third.stdout);
    expect(manifest).toMatchObject({ command: 'run', pipeline: 'random-person/people', status: 'succeeded' });
    expect(manifest.steps.map((s: { name: string; status: string }) => [s.name, s.status])).toEqual([
      ['extract', 'succeeded'],
      ['transform', 'cached'],
      ['load', 'cached'],
    ]);
  });

  it('--dry-run prints the plan, marked as a dry run, and fetches nothing', async () => {
    const dry = await runInProcess(runCommand, runArgs('--dry-run'), { json: true });
    expect(dry.error).toBeUndefined();
    expect(JSON.parse(dry.stdout)).toMatchObject({ command: 'run', dry_run: true, pipeline: 'random-person/people', steps: [{ name: 'extract', action: 'run' }, { name: 'transform', action: 'run' }, { name: 'load', action: 'skip' }] });
    const text = await runInProcess(runCommand, runArgs('--dry-run'));
    expect(text.stdout.split('\n')[0]).toBe('plan for random-person/people (nothing fetched, written or uploaded):');
    expect(bed.server.requests).toHaveLength(0);
  });
});

describe('the command context: stdout, --json and --log-file', () => {
  it('a result goes to stdout as its text, or as one JSON line; control characters in text are escaped', async () => {
    let out = '';
    const stdout = { write: (text: string) => ((out += text), true) } as unknown as NodeJS.WritableStream;
    const text = await createCommandContext({ json: false, debug: false, quiet: true }, stdout);
    text.printResult('done\u001b[31m red', { a: 1 });
    expect(out).toBe('done\\x1b[31m red\n');
    out = '';
    const asJson = await createCommandContext({ json: true, debug: false, quiet: true }, stdout);
    asJson.printResult('done', { a: 1, b: 'x' });
    expect(out).toBe('{"a":1,"b":"x"}\n');
  });

  it('the log on stderr follows --json, --quiet and --debug', async () => {
    const stderr: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (stderr.push(String(chunk)), true));
    const stdout = { write: () => true } as unknown as NodeJS.WritableStream;
    const asJson = await createCommandContext({ json: true, debug: false, quiet: false }, stdout);
    asJson.log.warn('careful');
    expect(JSON.parse(stderr[0]!)).toMatchObject({ level: 'warn', msg: 'careful' });
    const quiet = await createCommandContext({ json: false, debug: false, quiet: true }, stdout);
    quiet.log.info('not shown');
    quiet.log.warn('shown');
    const debug = await createCommandContext({ json: false, debug: true, quiet: false }, stdout);
    debug.log.debug('detail');
    expect(stderr.slice(1)).toEqual(['warn: shown\n', 'debug: detail\n']);
  });

  it('--log-file gets the logs and the result as JSON lines, secrets redacted, whether or not --json is given', async () => {
    await mkdir(bed.dataDir, { recursive: true });
    const file = path.join(bed.dataDir, 'etl.log');
    let out = '';
    const stdout = { write: (text: string) => ((out += text), true) } as unknown as NodeJS.WritableStream;
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const context = await createCommandContext({ json: false, debug: false, quiet: false, logFile: file }, stdout);
    context.log.warn('fetching https://u:abc123secret@example.org/');
    context.printResult('first line\nsecond line password=hunter2', { command: 'x', url: 'https://u:hunter2@example.org/' });
    expect(out).toBe('first line\nsecond line password=hunter2\n');
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n').map((line) => JSON.parse(line));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 'warn' });
    expect(lines[0].msg).not.toContain('abc123secret');
    expect(lines[1]).toMatchObject({ level: 'info', msg: 'first line', result: { command: 'x' } });
    expect(lines[1].time).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(JSON.stringify(lines[1])).not.toContain('hunter2');
  });

  it('--log-file that cannot be appended to is a usage error naming it; one that fails later warns once and the command goes on', async () => {
    await mkdir(bed.dataDir, { recursive: true });
    const folder = path.join(bed.dataDir, 'a-folder');
    await mkdir(folder);
    let caught: unknown;
    try {
      logFileStream(folder);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as Error).message).toMatch(new RegExp(`^--log-file ${folder}: cannot append to it \\(EISDIR`));
    expect((caught as ConfigError).hint).toBe('create its directory, or make it writable by this user');

    const stderr: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (stderr.push(String(chunk)), true));
    for (const asJson of [false, true]) {
      // /dev/full takes the empty append, then every write fails with ENOSPC. A name of its own per case: warned once per file.
      const full = path.join(bed.dataDir, `full-${asJson}`);
      await writeFile(full, '');
      const { symlink, rm } = await import('node:fs/promises');
      await rm(full);
      await symlink('/dev/full', full);
      const stream = logFileStream(full, asJson);
      expect(stream.write('one\n')).toBe(true);
      expect(stream.write('two\n')).toBe(true);
    }
    expect(stderr).toHaveLength(2);
    expect(stderr[0]).toMatch(/^warn: --log-file .*full-false: cannot write to it \(ENOSPC.*\); its lines from here on are lost, the run carries on\n$/);
    const record = JSON.parse(stderr[1]!);
    expect(record).toMatchObject({ level: 'warn' });
    expect(record.msg).toMatch(/^--log-file .*full-true: cannot write to it \(ENOSPC/);
  });
});
