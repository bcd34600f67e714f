import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readParquet } from '../helpers/parquet.js';

/**
 * Issue 20 item 16: the README's "Try it offline" commands, exactly as printed there, run one after the other
 * in a fresh folder (beside a checkout's bin/ and examples/), with no token, no network and no ETL_* settings.
 * Only the stand-in's port is swapped for a free one, so the test never collides with anything on 8787.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const README_PORT = '8787';

function readmeCommands(): string[] {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const section = readme.split(/^## Try it offline$/m)[1]!.split(/^## /m)[0]!;
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
  return block.trim().split('\n');
}

async function freePort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return String(port);
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-try-offline-'));
  for (const dir of ['bin', 'examples']) await symlink(path.join(root, dir), path.join(work, dir));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('README: Try it offline', () => {
  it('the stand-in serves each API source end to end: extract, transform, runs, with no token and no network', async () => {
    const commands = readmeCommands();
    // The block starts the stand-in in the background and stops it last (kill %1); the test does both itself.
    expect(commands[0]).toBe('node examples/stand-in-server.mjs &');
    expect(commands.at(-1)).toBe('kill %1');
    const port = await freePort();
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(ETL_|CLIMATEMPO_|SUPERMETRICS_|RANDOM_PERSON_)/.test(name)));
    const standIn = spawn('bash', ['-c', commands[0]!.replace(/ &$/, '')], { cwd: work, env: { ...env, STAND_IN_PORT: port }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await new Promise<void>((resolve, reject) => {
        standIn.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes(`http://127.0.0.1:${port}`) && resolve());
        standIn.on('exit', (code) => reject(new Error(`the stand-in exited with ${code}`)));
      });
      const printed: string[] = [];
      for (const command of commands.slice(1, -1)) {
        const result = spawnSync('bash', ['-c', command.replaceAll(`127.0.0.1:${README_PORT}`, `127.0.0.1:${port}`)], { cwd: work, env, encoding: 'utf8', timeout: 60_000 });
        expect(result.status, `${command}\n${result.stderr}`).toBe(0);
        expect(result.stderr, command).not.toMatch(/warn|error|retry/i);
        printed.push(result.stdout);
      }
      const runLines = printed.slice(0, 3).map((out) => out.trim());
      expect(runLines).toEqual([
        expect.stringMatching(/^run \S+-random-person-people-\w+: extract succeeded \(1 downloaded, 0 unchanged\), transform succeeded \(5 rows, 1 input file\)$/),
        expect.stringMatching(/^run \S+-climatempo-forecast-hourly-\w+: extract succeeded \(1 downloaded, 0 unchanged\), transform succeeded \(24 rows, 1 input file\)$/),
        expect.stringMatching(/^run \S+-supermetrics-query-\w+: extract succeeded \(7 downloaded, 0 unchanged\), transform succeeded \(91 rows, 7 input files\)$/),
      ]);
      expect(printed[3]!.trim().split('\n').map((line) => line.split(/\s+/).slice(1, 3))).toEqual([
        ['supermetrics/query', 'succeeded'],
        ['climatempo/forecast-hourly', 'succeeded'],
        ['random-person/people', 'succeeded'],
      ]);
      const processed = (source: string, dataset: string) => readParquet(path.join(work, 'data', 'processed', source, `${dataset}.parquet`));
      const people = await processed('random-person', 'people');
      expect(people.rows).toHaveLength(5);
      expect(people.rows.every((row) => typeof row.uuid === 'string' && row.login_password === undefined)).toBe(true);
      const hours = await processed('climatempo', 'forecast-hourly');
      expect(new Set(hours.rows.map((row) => row.city_name))).toEqual(new Set(['São Paulo']));
      const sessions = await processed('supermetrics', 'query');
      const dates = sessions.rows.map((row) => (row.date as Date).toISOString().slice(0, 10)).sort();
      expect([dates[0], dates.at(-1), new Set(dates).size]).toEqual(['2024-01-01', '2024-03-31', 91]);
    } finally {
      standIn.kill('SIGTERM');
    }
  });
});
