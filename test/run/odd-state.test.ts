import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractCommand } from '../../src/commands/extract.js';
import { planCommand } from '../../src/commands/plan.js';
import { runCommand } from '../../src/commands/run.js';
import { ConfigError } from '../../src/core/errors.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { runInProcess } from '../helpers/command-in-process.js';
import { runCli, startCli, type CliResult } from '../helpers/run-cli.js';

/**
 * Run state that is odd but not hostile (issue 19 item 10): what a data dir, a file system or a command line
 * can hold on an ordinary day. Each was exit 1 ("internal error"), blocked, or was accepted; each is one line
 * with its exit code, or handled. The built CLI, run as a user would, for each table's first case, the lock that is
 * a FIFO (killed if it hangs) and the lock whose memory is measured; the other runs go through the CLI's `main` in
 * this process (same exit codes and lines, no process start: about a CPU second each).
 */
let work: string;
/** A preload that prints the process's peak resident memory (KiB) on exit: measured, not guessed. */
let maxRssPreload: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-odd-state-'));
  maxRssPreload = path.join(work, 'max-rss.mjs');
  await writeFile(maxRssPreload, 'process.on("exit", () => process.stderr.write(`max-rss-kib=${process.resourceUsage().maxRSS}\\n`));\n');
});
afterAll(() => rm(work, { recursive: true, force: true }));

let caseNumber = 0;
async function freshDataDir(): Promise<string> {
  const dir = path.join(work, `data-${++caseNumber}`);
  await mkdir(path.join(dir, 'locks'), { recursive: true });
  return dir;
}

const COMMANDS = { extract: extractCommand, run: runCommand, plan: planCommand };

/**
 * A command line refused by the command layer, run in this process: the message and hint the CLI prints after
 * `etl: config error: ` (cli.ts makes commander's usage errors config errors, exit 2). In the tables below the first
 * case goes through the built CLI, which holds that part; the others cost no process (about a CPU second each).
 */
async function refusedInProcess([command, ...args]: string[]): Promise<string> {
  const result = await runInProcess(COMMANDS[command as keyof typeof COMMANDS], args);
  expect(result.error, `${command} ${args.join(' ')}: ${result.stdout}`).toBeDefined();
  expect(result.stdout).toBe('');
  if (result.error instanceof CommanderError) {
    expect(result.error.exitCode).not.toBe(0);
    return result.error.message.replace(/^error: /, '');
  }
  expect(result.error).toBeInstanceOf(ConfigError);
  const { message, hint } = result.error as ConfigError;
  return hint ? `${message} (${hint})` : message;
}

/** The error line, the one line on stderr apart from the warnings before it. */
function errorLines(result: CliResult): string[] {
  return result.stderr.trim().split('\n').filter((line) => line.startsWith('etl: '));
}

describe('the lock file', () => {
  // transform takes the dataset's raw lock before it reads anything: the cheapest command that takes a lock.
  const lockOf = (dataDir: string) => path.join(dataDir, 'locks', 'raw.random-person.people.lock');
  const transform = (dataDir: string, env: Record<string, string> = {}) => runCli(['transform', 'random-person', 'people', '--data-dir', dataDir], { env });

  it('a directory in the lock\'s place is one config error (exit 2) naming it, and is left where it is', async () => {
    const dataDir = await freshDataDir();
    await mkdir(path.join(lockOf(dataDir), 'something-of-yours'), { recursive: true });
    const result = await transform(dataDir);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^etl: config error: the lock .*raw\.random-person\.people\.lock is a directory, not a lock file etl wrote \(remove it, then run again/)]);
    // Not renamed aside, not removed: it is not etl's.
    expect(await readdir(lockOf(dataDir))).toEqual(['something-of-yours']);
    expect((await readdir(path.join(dataDir, 'locks'))).sort()).toEqual(['raw.random-person.people.lock']);
  });

  it('a FIFO in the lock\'s place is refused at once, not waited on', async () => {
    const dataDir = await freshDataDir();
    execFileSync('mkfifo', [lockOf(dataDir)]);
    const run = startCli(['transform', 'random-person', 'people', '--data-dir', dataDir]);
    // Were the FIFO opened for reading, the run would wait for a writer forever: stopped here, not left behind.
    const timer = setTimeout(() => run.child.kill('SIGKILL'), 8_000);
    const result = await run.done.finally(() => clearTimeout(timer));
    expect(result.code, result.stderr).toBe(2);
    expect(errorLines(result)).toEqual([expect.stringMatching(/the lock .* is a FIFO, not a lock file etl wrote/)]);
  }, 10_000);

  it('a 1 GiB lock file is not read whole: taken over as damaged, in a few MB of memory', async () => {
    const dataDir = await freshDataDir();
    await writeFile(lockOf(dataDir), '');
    await truncate(lockOf(dataDir), 1024 ** 3); // sparse: no disk used
    const result = await transform(dataDir, { NODE_OPTIONS: `--import=${pathToFileURL(maxRssPreload).href}` });
    expect(result.stderr).toContain(`warn: took over a damaged lock file ${lockOf(dataDir)}`);
    // What follows is the ordinary "nothing extracted yet": the lock was no obstacle.
    expect(errorLines(result)).toEqual([expect.stringMatching(/nothing extracted for random-person people/)]);
    const maxRssMiB = Number(/max-rss-kib=(\d+)/.exec(result.stderr)![1]) / 1024;
    // Read whole it took over 600 MiB; the run itself needs well under 200.
    expect(maxRssMiB).toBeLessThan(300);
  });
});

describe('a malformed file in runs/', () => {
  const runId = '20260101T000000000Z-ons-monthly-deaths-aaaa';
  const good = { run_id: runId, pipeline: 'ons/monthly-deaths', params: {}, etl_version: '0', pid: 1, status: 'succeeded', started_at: '2026-01-01T00:00:00.000Z', ended_at: '2026-01-01T00:00:02.000Z', steps: [{ name: 'extract', status: 'succeeded' }] };
  const damaged: Array<[string, string, RegExp]> = [
    ['20260102T000000000Z-cut-short-aaaa', '{"run_id": "x", "pipel', /not JSON/],
    ['20260103T000000000Z-a-list-aaaa', '[1, 2]', /expected an object, got an array/],
    ['20260104T000000000Z-null-aaaa', 'null', /expected an object, got null/],
    ['20260105T000000000Z-no-steps-aaaa', JSON.stringify({ ...good, steps: undefined }), /steps is not a list/],
    ['20260106T000000000Z-bad-step-aaaa', JSON.stringify({ ...good, steps: [null] }), /steps\[0\] has no name and status/],
  ];
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await freshDataDir();
    await mkdir(path.join(dataDir, 'runs'));
    await writeFile(path.join(dataDir, 'runs', `${runId}.json`), JSON.stringify(good));
    for (const [id, text] of damaged) await writeFile(path.join(dataDir, 'runs', `${id}.json`), text);
  });

  it('etl runs lists the good runs and names each damaged file in one warning (exit 0)', async () => {
    const result = await runCliInProcess(['runs', '--data-dir', dataDir]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^${runId}  ons/monthly-deaths  succeeded .* 2\\.0 s  extract succeeded$`))]);
    const warnings = result.stderr.trim().split('\n');
    expect(warnings).toHaveLength(damaged.length);
    for (const [id, , problem] of damaged) {
      expect(warnings.find((line) => line.includes(`${id}.json`))).toMatch(new RegExp(`^warn: .*${id}\\.json is not a run manifest etl wrote: ${problem.source}.*; left out$`));
    }
  });

  it.each(damaged)('etl runs show %s is one data error (exit 4) naming the file', async (id, _text, problem) => {
    const result = await runCliInProcess(['runs', 'show', id, '--data-dir', dataDir]);
    expect(result.code, result.stderr).toBe(4);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^etl: data error: .*${id}\\.json is not a run manifest etl wrote: ${problem.source}`))]);
    expect(result.stdout).toBe('');
  });
});

describe.skipIf(!existsSync('/dev/full'))('--log-file on a full disk (/dev/full: every write fails with ENOSPC)', () => {
  // Processes: the failed write is reported after the command has returned, before the process exits.
  const fullDisk = /^warn: --log-file \/dev\/full: cannot write to it \(ENOSPC: no space left on device, write\); its lines from here on are lost, the run carries on$/;

  it('a command that succeeds still succeeds (exit 0, its result on stdout), with one warning naming the file', async () => {
    const dataDir = await freshDataDir();
    const result = await runCli(['--log-file', '/dev/full', 'runs', '--data-dir', dataDir]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^no runs recorded in /);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(fullDisk)]);
  });

  it('a command that fails keeps its own exit code and one error line, after the one warning', async () => {
    const dataDir = await freshDataDir();
    const result = await runCli(['--log-file', '/dev/full', 'transform', 'random-person', 'people', '--data-dir', dataDir]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(fullDisk), expect.stringMatching(/^etl: config error: nothing extracted for random-person people/)]);
  });

  it('with --json the warning is a JSON line too', async () => {
    const dataDir = await freshDataDir();
    const result = await runCli(['--json', '--log-file', '/dev/full', 'runs', '--data-dir', dataDir]);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stderr.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines).toEqual([expect.objectContaining({ level: 'warn', msg: expect.stringMatching(/^--log-file \/dev\/full: cannot write to it \(ENOSPC/) })]);
  });
});

describe('--param names that reach Object.prototype', () => {
  let config: string;
  beforeAll(async () => {
    config = path.join(work, 'pipelines.yaml');
    await writeFile(config, 'pipelines:\n  deaths:\n    source: ons\n    params:\n      first_year: { type: integer, default: 2015 }\n    options:\n      from: ${first_year}\n');
  });
  const planArgs = (...args: string[]) => ['plan', '--config', config, '--data-dir', path.join(work, 'param-data'), ...args];

  it('the declared parameter works', async () => {
    const result = await runCliInProcess(planArgs('--param', 'first_year=2019'));
    expect(result.code, result.stderr).toBe(0);
  });

  // __proto__=5 and constructor=1 were accepted (exit 0); __proto__=x said "declared as undefined".
  it.each(['__proto__=x', '__proto__=5', 'constructor=1', 'toString=3', 'hasOwnProperty=true', 'prototype=1'])('--param %s is one config error (exit 2), nothing planned', async (param) => {
    const name = param.split('=')[0]!;
    const refusal = `--param ${name}: (${name} cannot name a parameter|pipeline deaths declares no such parameter) \\(declared: first_year`;
    if (param !== '__proto__=x') {
      expect(await refusedInProcess(['plan', '--config', config, '--data-dir', path.join(work, 'param-data'), '--param', param])).toMatch(new RegExp(`^${refusal}`));
      return;
    }
    const result = await runCli(planArgs('--param', param));
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^etl: config error: ${refusal}`))]);
    expect(result.stdout).toBe('');
  });

  it.each([
    ['a parameter declared as __proto__', '{"pipelines":{"p":{"source":"ons","params":{"__proto__":{"type":"integer","default":2019}},"options":{"from":"${__proto__}"}}}}', /pipelines\.p\.params\.__proto__: __proto__ cannot name a parameter/],
    ['a reference to ${constructor}, declared nowhere', '{"pipelines":{"p":{"source":"ons","options":{"from":"${constructor}"}}}}', /pipelines\.p\.options\.from: refers to \$\{constructor\}, which is not declared under params/],
  ])('a config with %s is one config error (exit 2)', async (_what, text, message) => {
    const file = path.join(work, `proto-${++caseNumber}.json`);
    await writeFile(file, text);
    const result = await runCliInProcess(['plan', '--config', file, '--data-dir', path.join(work, 'param-data')]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(message)]);
  });
});

describe('numbers on the command line are plain decimal, and in range', () => {
  // Nothing listens there: a request that got out would end in exit 3, not 2.
  const nowhere = 'http://127.0.0.1:9';
  const dataDir = () => path.join(work, 'numbers');

  it.each([
    ['-5', /expected at least 1/],
    ['0x10', /expected a whole number in decimal digits/],
    ['1e3', /expected a whole number in decimal digits/],
    [' 7', /expected a whole number in decimal digits/],
  ])('--count %j is one config error (exit 2) from extract, run, run --dry-run and plan, before any request', async (count, message) => {
    // plan said "extract run" for --count -5 and 0x10 (exit 0).
    const refusal = `option '--count <n>' argument ${JSON.stringify(JSON.stringify(count)).slice(1, -1)} is invalid: ${message.source}`;
    for (const command of [['extract'], ['run'], ['run', '--dry-run'], ['plan']]) {
      const args = [...command, 'random-person', 'people', `--count=${count}`, '--base-url', nowhere, '--retries', '0', '--data-dir', dataDir()];
      if (count !== '-5') {
        expect(await refusedInProcess(args), command.join(' ')).toMatch(new RegExp(`^${refusal}`));
        continue;
      }
      // The first command as a process; the others through main in this process, to the same line.
      const result = await (command[0] === 'extract' ? runCli : runCliInProcess)(args);
      expect(result.code, `${command}: ${result.stderr}`).toBe(2);
      expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^etl: config error: ${refusal}`))]);
    }
  });

  it.each([
    ['--concurrency', '0x10'],
    ['--concurrency', '1e1'],
    ['--retries', '0b1'],
    ['--timeout', ' 30'],
  ])('plan %s %j is one config error (exit 2), as run and extract say', async (flag, value) => {
    const refusal = new RegExp(`option '${flag} <[a-z-]+>' argument '${value}' is invalid\\. expected a whole number of [01] or more, in decimal digits`);
    for (const command of [['plan', 'ons'], ['run', 'ons'], ['extract', 'ons']]) {
      const args = [...command, `${flag}=${value}`, '--url', nowhere, '--data-dir', dataDir()];
      if (`${flag} ${value}` !== '--concurrency 0x10') {
        expect(await refusedInProcess(args), command.join(' ')).toMatch(refusal);
        continue;
      }
      const result = await (command[0] === 'plan' ? runCli : runCliInProcess)(args);
      expect(result.code, `${command.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(refusal);
    }
  });
});

describe('durations past what a timer can hold (2^31-1 ms: Node fires a longer timer at once)', () => {
  const tooLong = /expected at most 2147483 seconds \(about 24\.8 days: a longer timer would fire at once, not after \d+ s\)/;
  const dataDir = () => path.join(work, 'timers');

  // --step-timeout 3000000 stopped the transform at once: "ran past its timeout of 3000000 s" (exit 4).
  it.each([
    ['run', '--step-timeout', '3000000'],
    ['plan', '--step-timeout', '2147484'],
    ['run', '--timeout', '3000000'],
    ['extract', '--download-timeout', '3000000'],
  ])('%s %s %s is one config error (exit 2) before anything runs', async (command, flag, value) => {
    // The first row as a process, the others through main in this process.
    const result = await (flag === '--step-timeout' && command === 'run' ? runCli : runCliInProcess)([command, 'ons', flag, value, '--url', 'http://127.0.0.1:9', '--data-dir', dataDir()]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^etl: config error: option '${flag} <seconds>' argument '${value}' is invalid\\. ${tooLong.source}`))]);
  });

  it('the longest timer is accepted', async () => {
    const result = await runCliInProcess(['plan', 'ons', '--step-timeout', '2147483', '--timeout', '2147483', '--download-timeout', '2147483', '--data-dir', dataDir()]);
    expect(result.code, result.stderr).toBe(0);
  });

  it.each([
    ['steps.extract.timeout', 'steps:\n      extract: { timeout: 3000000 }', /--step-timeout \(steps\.extract\.timeout\) 3000000: /],
    ['options.timeout', 'options:\n      timeout: 3000000', /--timeout \(options\.timeout\) 3000000: /],
    ['options.download_timeout', 'options:\n      download_timeout: 2147484', /--download-timeout \(options\.download_timeout\) 2147484: /],
  ])('a config file\'s %s past it is one config error (exit 2) naming the field', async (_field, yaml, message) => {
    const file = path.join(work, `timer-${++caseNumber}.yaml`);
    await writeFile(file, `pipelines:\n  deaths:\n    source: ons\n    ${yaml}\n`);
    for (const command of ['plan', 'run']) {
      const result = await runCliInProcess([command, '--config', file, '--data-dir', dataDir()]);
      expect(result.code, `${command}: ${result.stderr}`).toBe(2);
      expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^etl: config error: .*${message.source}${tooLong.source}`))]);
    }
  });

  it('a --rate-limit so slow that its wait would overflow a timer is refused (exit 2); 0 is no limit', async () => {
    const slow = await runCliInProcess(['extract', 'random-person', '--rate-limit', '0.0000001', '--base-url', 'http://127.0.0.1:9', '--data-dir', dataDir()]);
    expect(slow.code, slow.stderr).toBe(2);
    expect(slow.stderr).toMatch(/--rate-limit <per-second>' argument '0\.0000001' is invalid\. expected 0 \(no limit\) or at least 0\.001 \(one request per 1000 s\)/);
    const none = await runCliInProcess(['plan', 'ons', '--rate-limit', '0', '--data-dir', dataDir()]);
    expect(none.code, none.stderr).toBe(0);
  });
});
