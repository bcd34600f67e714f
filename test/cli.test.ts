import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliInProcess } from './helpers/cli-in-process.js';
import { runCli, startCli } from './helpers/run-cli.js';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-cli-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A port nothing listens on: bind, note it, close. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('etl CLI', () => {
  it('--help teaches: commands, examples and exit codes', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    for (const text of ['extract', 'transform', 'run', 'Examples:', 'Exit codes:', '4  data did not look as declared']) expect(result.stdout).toContain(text);
    const extractHelp = await runCliInProcess(['extract', 'ons', '--help']);
    expect(extractHelp.stdout).toContain('--from <year>');
    expect(extractHelp.stdout).toContain('env: ONS_URL');
  });

  // The first as a process (its exit code and its one stderr line as a shell sees them), the rest through main in-process.
  it.each([
    { args: ['frobnicate'], error: /etl: config error: unknown command 'frobnicate'/, run: runCli },
    { args: ['extract'], error: /etl: config error: missing required argument 'source'/ },
    { args: ['extract', 'nosuch'], error: /etl: config error: unknown source "nosuch" \(choose one of: ons, climatempo, random-person, supermetrics, postgres\)/ },
    { args: ['extract', 'ons', 'nosuch'], error: /etl: config error: ons has no dataset "nosuch" \(choose one of: monthly-deaths/ },
    { args: ['extract', 'ons', '--from', '15'], error: /etl: config error: .*--from <year>.*expected a four-digit year/ },
    { args: ['run', 'random-person', '--shard', '0/2', '--partition-by', 'uuid'], error: /etl: config error: random-person cannot be sharded: it has no work units to split between machines/ },
    { args: ['extract', 'ons', '--url', '127.0.0.1:8080/page'], error: /etl: config error: option '--url <url>' argument "127\.0\.0\.1:8080\/page" is invalid: not an http:\/\/ or https:\/\/ URL: write it with its scheme, e\.g\. http:\/\/127\.0\.0\.1:8080\/page/ },
    { args: ['extract', 'ons', '--url', 'ftp://127.0.0.1/page'], error: /etl: config error: option '--url <url>' argument "ftp:\/\/127\.0\.0\.1\/page" is invalid: not an http:\/\/ or https:\/\/ URL/ },
  ])('usage error $args exits 2 with one line', async ({ args, error, run = runCliInProcess }) => {
    const result = await run([...args, '--data-dir', work]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(error);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it.each([
    { args: ['load', 'deaths.parquet'], help: 'etl load --help' },
    { args: ['inspect'], help: 'etl inspect --help' },
    { args: ['runs', 'show'], help: 'etl runs show --help' },
    { args: ['transform', 'ons', '--frm', '2019'], help: 'etl transform ons --help' },
    { args: ['frobnicate'], help: 'etl --help' },
  ])('a usage error in $args points at the help that lists the flags: $help', async ({ args, help }) => {
    const result = await runCliInProcess(args, { cwd: work });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toMatch(new RegExp(`\\(run ${help} for usage\\)$`));
  });

  it('transform before extract says what to run first (exit 2)', async () => {
    const result = await runCliInProcess(['transform', 'ons', '--data-dir', path.join(work, 'empty')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no extracted workbooks for ons monthly-deaths in .*empty\/raw\/ons\/monthly-deaths \(run `etl extract ons monthly-deaths` first/);
  });

  it('an unreachable source exits 3 naming the URL; --debug adds the stack; --json gives one JSON line', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/page`;
    const plain = await runCli(['extract', 'ons', '--url', url, '--retries', '0', '--data-dir', work]);
    expect(plain.code).toBe(3);
    expect(plain.stderr).toMatch(new RegExp(`^etl: source error: GET ${url.replace(/[.?]/g, '\\$&')} failed: ECONNREFUSED`));
    expect(plain.stderr).not.toContain('    at ');

    const debug = await runCliInProcess(['--debug', 'extract', 'ons', '--url', url, '--retries', '0', '--data-dir', work]);
    expect(debug.code).toBe(3);
    expect(debug.stderr).toContain('    at ');

    const json = await runCliInProcess(['--json', 'extract', 'ons', '--url', url, '--retries', '0', '--data-dir', work]);
    expect(json.code).toBe(3);
    const record = JSON.parse(json.stderr.trim().split('\n').at(-1)!);
    expect(record).toMatchObject({ level: 'error', kind: 'source error', exit_code: 3, msg: expect.stringContaining('ECONNREFUSED') });
  });

  it('--json error lines, stack included, carry no credentials from what the user typed', async () => {
    const secret = 'pw-typed-on-the-command-line';
    const run = await runCliInProcess(['--json', '--debug', 'transform', 'ons', '--input', `https://etl:${secret}@host/x.xls?token=${secret}`, '--out', path.join(work, 'x.parquet')]);
    expect(run.code).toBe(2);
    expect(run.stderr).not.toContain(secret);
    const records = run.stderr.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.at(-1)).toMatchObject({ level: 'error', kind: 'config error', msg: expect.stringContaining('https://REDACTED@host/'), stack: expect.stringContaining('REDACTED') });
  });

  it('prints the version from package.json', async () => {
    const result = await runCli(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("the built CLI (dist/ bundled into chunks) writes cron lines that run this package's bin/etl.js", async () => {
    const result = await runCli(['cron', 'ons', '--schedule', '0 5 * * *']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(` ${path.resolve(import.meta.dirname, '../bin/etl.js')} --quiet run ons `);
  });

  it('a reader that closed the pipe early (etl --help | head -1) ends the command quietly, not with an EPIPE stack', async () => {
    const { child, done } = startCli(['--help']);
    // Closed before the child has loaded, so every write of the help meets a pipe with no reader.
    child.stdout!.destroy();
    const result = await done;
    expect(result.stderr).not.toContain('EPIPE');
    expect(result.code).toBe(0);
  });
});
