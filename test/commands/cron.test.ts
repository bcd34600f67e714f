import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cronCommand } from '../../src/commands/cron.js';
import { ConfigError } from '../../src/core/errors.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { runInProcess } from '../helpers/command-in-process.js';
import { runCli } from '../helpers/run-cli.js';

/** `etl cron` prints a line only when cron can run it and the run it starts would not refuse its own flags. */
let work: string;
let noRegion: Record<string, string>;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-cron-'));
  delete process.env.AWS_REGION;
  delete process.env.AWS_DEFAULT_REGION;
  delete process.env.AWS_PROFILE;
  delete process.env.ETL_DATA_DIR;
  const missing = path.join(work, 'no-such-aws-file');
  noRegion = { AWS_CONFIG_FILE: missing, AWS_SHARED_CREDENTIALS_FILE: missing, HOME: work };
});

afterAll(() => rm(work, { recursive: true, force: true }));

const lineOf = (stdout: string): string => stdout.trim().split('\n').at(-1)!;

/** The command cron hands to /bin/sh: after the five fields (or the macro), with each \% turned back into %. */
function shellCommandOf(line: string): string {
  const command = line.startsWith('@') ? line.replace(/^@\S+ /, '') : line.split(' ').slice(5).join(' ');
  // A bare % would end the command there (cron turns it into a newline): every % must be escaped.
  expect(command.replace(/\\%/g, '')).not.toContain('%');
  return command.replace(/\\%/g, '%');
}

describe('etl cron refuses a schedule cron cannot read', () => {
  // Each schedule through the command layer in-process (a spawned CLI costs about a CPU second on two shared
  // cores); the CLI's own part, exit code and error line, is checked once for a refused and an accepted schedule below.
  it.each([
    ['15 6 * *', 'four fields; cron takes five'],
    ['0 0 * * * *', 'six fields (cron has no seconds field)'],
    ['61 6 * * *', 'minute "61": 61 is outside 0-59'],
    ['0 24 * * *', 'hour "24": 24 is outside 0-23'],
    ['0 0 0 * *', 'day of month "0": 0 is outside 1-31'],
    ['0 0 * 13 *', 'month "13": 13 is outside 1-12'],
    ['0 0 * * 8', 'day of week "8": 8 is outside 0-7'],
    ['0 0 * * funday', 'day of week "funday": "funday" is not a number or a name'],
    ['*/0 * * * *', 'step /0 is outside 1-60'],
    ['5/10 * * * *', 'a step goes with * or a range (write 5-59/10)'],
    ['0 17-9 * * *', 'the range 17-9 runs backwards'],
    ['0 0 1,,15 * *', 'an empty item in the list'],
    ['0 0 ? * MON-FRI', 'Quartz syntax'],
    ['0 0 L * *', 'Quartz syntax'],
    ['@fortnightly', 'unknown macro'],
    ['', 'no fields'],
  ])('%j: exit 2 naming the problem', async (schedule, problem) => {
    const result = await runInProcess(cronCommand, ['ons', '--schedule', schedule]);
    expect(result.error).toBeInstanceOf(ConfigError);
    expect((result.error as ConfigError).exitCode).toBe(2);
    expect(result.stdout).toBe('');
    expect((result.error as Error).message).toContain(`--schedule ${JSON.stringify(schedule)}: `);
    expect((result.error as Error).message).toContain(problem);
  });

  it.each(['15 6 * * *', '*/15 9-17 * * mon-fri', '0 0 1,15 jan,jul *', '0 0 * * 7', '0-59/5 * * * SUN', '@daily', '@hourly', '@reboot', '30 2 * * 1-5/2'])('%j is accepted as written', async (schedule) => {
    const result = await runInProcess(cronCommand, ['ons', '--schedule', schedule]);
    expect(result.error).toBeUndefined();
    expect(lineOf(result.stdout).startsWith(`${schedule} cd `)).toBe(true);
  });

  it('through the built CLI: a refused schedule is exit 2 with one config error line and nothing on stdout; an accepted one is printed as written', async () => {
    const [refused, accepted] = await Promise.all([
      runCli(['cron', 'ons', '--schedule', '0 0 * * funday'], { cwd: work }),
      runCli(['cron', 'ons', '--schedule', '0-59/5 * * * SUN'], { cwd: work }),
    ]);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^etl: config error: --schedule "0 0 \* \* funday": day of week "funday": "funday" is not a number or a name/)]);
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(lineOf(accepted.stdout).startsWith('0-59/5 * * * SUN cd ')).toBe(true);
  });
});

// Past the built-CLI test above, runs go through the CLI's `main` in this process (the same lines and exit codes, in
// the same working directory and environment). Those about a secret that must not be printed too: each call starts
// with no secret registered, as a process does (runCliInProcess), so an earlier run's secret cannot mask a leak.
describe('etl cron refuses what the run itself would refuse', () => {
  it('a missing --env-vars file (node would exit 9 on every tick)', async () => {
    const result = await runCliInProcess(['cron', 'ons', '--env-vars', path.join(work, 'missing.env')], { cwd: work });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`--env-vars ${path.join(work, 'missing.env')}: cannot read it`);
  });

  it('s3:// with no region: the same error as etl run; a region in the --env-vars file is one the job will have', async () => {
    const cron = await runCliInProcess(['cron', 'ons', '--bucket', 's3://lake/ons/'], { cwd: work, env: noRegion });
    const run = await runCliInProcess(['run', 'ons', '--bucket', 's3://lake/ons/', '--dry-run'], { cwd: work, env: noRegion });
    expect(cron.code).toBe(2);
    expect(cron.stderr).toBe(run.stderr);
    const envFile = path.join(work, 'region.env');
    await writeFile(envFile, 'AWS_REGION=eu-west-2\n');
    const withFile = await runCliInProcess(['cron', 'ons', '--bucket', 's3://lake/ons/', '--env-vars', envFile], { cwd: work, env: noRegion });
    expect(withFile.code, withFile.stderr).toBe(0);
    expect(lineOf(withFile.stdout)).toContain(`--env-file=${envFile} `);
  });

  it('a bad destination from a config file, and a Postgres URL holding a password (not echoed)', async () => {
    const file = path.join(work, 'bad.yaml');
    await writeFile(file, 'pipelines:\n  p:\n    source: ons\n    destination: { bucket: lake/ons/ }\n');
    const config = await runCliInProcess(['cron', '--config', file], { cwd: work });
    expect(config.code).toBe(2);
    expect(config.stderr).toContain(`${file}: pipelines.p.destination.bucket:`);
    const password = await runCliInProcess(['cron', 'ons', '--to', 'postgres://etl:hunter2@db.example/lake', '--table', 'ons.deaths'], { cwd: work });
    expect(password.code).toBe(2);
    expect(password.stderr).not.toContain('hunter2');
  });
});

describe('the line runs as cron runs it', () => {
  it("ETL_DATA_DIR from the environment is kept; a data dir and log holding ' and % give a line sh runs (bash -n agrees)", async () => {
    const odd = path.join(work, "it's 100%");
    await mkdir(odd, { recursive: true });
    const dataDir = path.join(odd, 'data');
    const log = path.join(odd, 'etl.log');
    const result = await runCliInProcess(['cron', 'ons', '--schedule', '5 4 * * *', '--dry-run', '--log', log], { cwd: work, env: { ETL_DATA_DIR: dataDir } });
    expect(result.code, result.stderr).toBe(0);
    const line = lineOf(result.stdout);
    expect(line).toContain('--data-dir ');
    const command = shellCommandOf(line);
    expect(spawnSync('bash', ['-n', '-c', command]).status).toBe(0);
    // Run it as cron would (sh -c, no ETL_DATA_DIR): --dry-run makes it a plan, which names the data dir.
    const env = { ...process.env };
    delete env.ETL_DATA_DIR;
    const ran = spawnSync('/bin/sh', ['-c', command], { env, encoding: 'utf8' });
    expect(ran.status, ran.stderr).toBe(0);
    const logged = await readFile(log, 'utf8');
    expect(logged).toContain('plan for ons/monthly-deaths');
    expect(logged).toContain(path.join(dataDir, 'processed', 'ons'));
  });

  it('a secret-bearing ETL_ALERT_URL from the shell stays out of the line, with a warning that cron will not see it', async () => {
    const result = await runCliInProcess(['cron', 'ons'], { cwd: work, env: { ETL_ALERT_URL: 'https://hooks.example/T0/secret-token' } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).not.toContain('secret-token');
    expect(result.stderr).toContain('ETL_ALERT_URL is set in this shell but cron will not see it');
    expect(result.stderr).not.toContain('secret-token');
  });
});
