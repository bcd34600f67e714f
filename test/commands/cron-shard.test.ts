import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CommanderError, type Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCommandContext, type CommandContext } from '../../src/commands/context.js';
import { cronCommand } from '../../src/commands/cron.js';
import { runCommand } from '../../src/commands/run.js';
import { createLogger } from '../../src/core/log.js';
import { withEnv } from '../helpers/env.js';

/**
 * `etl cron` and `--shard` in-process, through the command layer, so that a mutant of src/commands is seen.
 * docs/testing.md ("Nine behaviours") says how each test's bug was planted.
 */
let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-cron-shard-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Runs one command in this process; resolves to what it printed on stdout. Warnings and errors it logged go to `logged`. */
async function inProcess(create: (context: () => Promise<CommandContext>) => Command, args: string[], json = false, logged: string[] = []): Promise<string> {
  let stdout = '';
  const out = { write: (text: string) => ((stdout += text), true) } as unknown as NodeJS.WritableStream;
  const quietLog = createLogger({ quiet: true, stream: { write: (line: string) => (logged.push(line.trimEnd()), true) } as unknown as NodeJS.WritableStream, interactive: false });
  const context = { ...(await createCommandContext({ json, debug: false, quiet: true }, out)), log: quietLog };
  await create(async () => context).exitOverride().configureOutput({ outputError: () => {} }).parseAsync(args, { from: 'user' });
  return stdout;
}

/**
 * What cron does with a crontab line's command (cronie, vixie cron): `\%` becomes `%`, and the first other `%`
 * ends the command (the rest goes to its stdin). Returns the command /bin/sh is given and what was cut off.
 */
function asCronRunsIt(line: string): { command: string; cut: string | null } {
  const command = line.split(' ').slice(5).join(' ');
  let out = '';
  for (let i = 0; i < command.length; i++) {
    const ch = command[i]!;
    if (ch === '\\' && command[i + 1] === '%') {
      out += '%';
      i++;
    } else if (ch === '\\' && i + 1 < command.length) {
      out += ch + command[i + 1];
      i++;
    } else if (ch === '%') {
      return { command: out, cut: command.slice(i) };
    } else {
      out += ch;
    }
  }
  return { command: out, cut: null };
}

describe('etl cron: the line survives cron and the shell', () => {
  it("paths with a quote, a percent sign and spaces are each one word, read back exactly; bash -n accepts the line; each % is written \\%", async () => {
    const dataDir = path.join(work, "it's 100% data");
    const log = path.join(work, "o'brien %d.log");
    const envFile = path.join(work, "env 'file'%");
    await writeFile(envFile, '# KEY=value lines\n');
    const result = JSON.parse(await inProcess(cronCommand, ['ons', '--schedule', '0 5 * * *', '--data-dir', dataDir, '--log', log, '--env-vars', envFile], true));
    const line: string = result.line;
    expect(line.startsWith('0 5 * * * cd ')).toBe(true);
    expect(result.log).toBe(log);
    // Every % in the line is escaped for cron.
    expect(line.match(/%/g)).toHaveLength(3);
    expect(line.match(/\\%/g)).toHaveLength(3);
    expect(spawnSync('bash', ['-n', '-c', line.split(' ').slice(5).join(' ')]).status).toBe(0);

    const { command, cut } = asCronRunsIt(line);
    expect(cut).toBeNull();
    expect(spawnSync('bash', ['-n', '-c', command]).status).toBe(0);
    // Run it as cron would, with `cd` and node standing in as functions that print their arguments one per line.
    const shown = path.join(work, 'words');
    const script = `cd() { printf '%s\\n' cd "$@" >>${JSON.stringify(shown)}; }; function ${process.execPath} { printf '%s\\n' "$@" >>${JSON.stringify(shown)}; }; ${command}`;
    const ran = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
    expect(ran.status, ran.stderr).toBe(0);
    const words = spawnSync('cat', [shown], { encoding: 'utf8' }).stdout.trimEnd().split('\n');
    expect(words).toEqual(['cd', process.cwd(), `--env-file=${envFile}`, expect.stringMatching(/bin[/\\]etl\.js$/), '--json', 'run', 'ons', '--data-dir', dataDir]);
    // The redirection went to the log file, at exactly its path.
    expect(await readdir(work)).toContain("o'brien %d.log");
  });
});

describe('etl cron: what the line holds', () => {
  const bin = path.resolve(import.meta.dirname, '../../bin/etl.js');

  it('quiet, absolute paths, the default log under /var/log/etl, and every flag given passed on as given (booleans, lists)', async () => {
    const envFile = path.join(work, 'etl.env');
    await writeFile(envFile, '');
    const printed = await inProcess(cronCommand, ['ons', 'monthly-deaths', '--schedule', '0 5 * * *', '--bucket', 's3://lake/ons/', '--region', 'eu-west-2', '--env-vars', envFile, '--no-cache', '--skip-bad', '--input', 'a.xls', 'b b.xls']);
    expect(printed).toBe(
      "# etl ons/monthly-deaths: the log's directory must exist and be writable by this user; rotate it with logrotate (copytruncate)\n" +
        `0 5 * * * cd ${process.cwd()} && ${process.execPath} --env-file=${envFile} ${bin} --quiet run ons monthly-deaths --input a.xls 'b b.xls' --skip-bad --bucket s3://lake/ons/ --region eu-west-2 --no-cache >>/var/log/etl/ons-monthly-deaths.log 2>&1\n`,
    );
  });

  it('with --json: one JSON result naming the line and the log; no dataset given, none in the line; no --env-vars, no --env-file', async () => {
    const printed = await inProcess(cronCommand, ['ons', '--log', 'logs/etl.log'], true);
    expect(printed.endsWith('\n')).toBe(true);
    expect(JSON.parse(printed)).toEqual({
      command: 'cron',
      line: `15 6 * * * cd ${process.cwd()} && ${process.execPath} ${bin} --json run ons >>${path.resolve('logs/etl.log')} 2>&1`,
      log: path.resolve('logs/etl.log'),
    });
  });
});

describe('etl cron: the environment cron will not have', () => {
  const unset = { ETL_DATA_DIR: undefined, ETL_ALERT_URL: undefined, AWS_REGION: undefined, ETL_CRON_TEST_ONLY: undefined };

  it("a variable-set flag (ETL_DATA_DIR) is written into the line; ETL_ALERT_URL and AWS_REGION are not, and are warned about", async () => {
    const dataDir = path.join(work, 'from-env');
    const logged: string[] = [];
    const line = await withEnv({ ...unset, ETL_DATA_DIR: dataDir, ETL_ALERT_URL: 'https://hooks.example/T0/secret-token', AWS_REGION: 'eu-west-2' }, async () =>
      JSON.parse(await inProcess(cronCommand, ['ons', '--bucket', 's3://lake/ons/'], true, logged)).line as string,
    );
    expect(line).toContain(` run ons --data-dir ${dataDir} --bucket s3://lake/ons/ >>`);
    expect(line).not.toMatch(/secret-token|--alert-url|--region/);
    expect(logged).toEqual([
      'warn: AWS_REGION is set in this shell but cron will not see it: put it in the --env-vars file or pass --region',
      'warn: ETL_ALERT_URL is set in this shell but cron will not see it: put it in the --env-vars file',
    ]);
  });

  it('what the --env-vars file sets is neither written into the line nor warned about, and is in place only while the checks run', async () => {
    const envFile = path.join(work, 'cron.env');
    await writeFile(envFile, `ETL_DATA_DIR=${path.join(work, 'from-file')}\nETL_ALERT_URL=https://hooks.example/T0/x\nAWS_REGION=eu-west-2\nETL_CRON_TEST_ONLY=1\n`);
    const logged: string[] = [];
    const line = await withEnv({ ...unset, ETL_DATA_DIR: path.join(work, 'from-shell'), ETL_ALERT_URL: 'https://hooks.example/T0/y' }, async () => {
      const printed = JSON.parse(await inProcess(cronCommand, ['ons', '--bucket', 's3://lake/ons/', '--env-vars', envFile], true, logged)).line as string;
      // The file's variables were set for the checks only; the shell's own are as they were.
      expect(process.env.ETL_CRON_TEST_ONLY).toBeUndefined();
      expect(process.env.AWS_REGION).toBeUndefined();
      expect(process.env.ETL_DATA_DIR).toBe(path.join(work, 'from-shell'));
      return printed;
    });
    expect(line).toContain(` run ons --bucket s3://lake/ons/ >>`);
    expect(line).not.toContain('--data-dir');
    expect(logged).toEqual([]);
    // Without the file, the region the destination needs is missing: refused, nothing printed.
    await withEnv(unset, async () => {
      await expect(inProcess(cronCommand, ['ons', '--bucket', 's3://lake/ons/'])).rejects.toThrow(/region/i);
    });
    // --region given: AWS_REGION from the shell is not needed, so not warned about.
    const quiet: string[] = [];
    await withEnv({ ...unset, AWS_REGION: 'eu-west-2' }, () => inProcess(cronCommand, ['ons', '--bucket', 's3://lake/ons/', '--region', 'eu-west-1'], true, quiet));
    expect(quiet).toEqual([]);
  });

  it('a path with a line break, and an --env-vars file that cannot be read, are refused before a line is printed', async () => {
    await expect(inProcess(cronCommand, ['ons', '--log', path.join(work, 'a\nb.log')])).rejects.toThrow(/^"[^"]*a\\nb\.log" holds a line break, which a crontab line cannot$/);
    const missing = path.join(work, 'missing.env');
    await expect(inProcess(cronCommand, ['ons', '--env-vars', missing])).rejects.toThrow(new RegExp(`^--env-vars ${missing}: cannot read it \\(ENOENT`));
  });
});

describe('--shard i/n: shards are numbered from 0', () => {
  it('--shard 3/3 is refused as a usage error before anything runs; 2/3 and 0/3 are taken', async () => {
    const dataDir = path.join(work, 'shard-data');
    await mkdir(dataDir, { recursive: true });
    const refused = (create: typeof runCommand, extra: string[] = []) =>
      inProcess(create, ['ons', '--shard', '3/3', '--partition-by', 'edition', '--data-dir', dataDir, '--url', 'http://127.0.0.1:9/', '--retries', '0', ...extra]);
    for (const create of [runCommand, cronCommand]) {
      const error = await refused(create).then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(CommanderError);
      expect(error).toMatchObject({ code: 'commander.invalidArgument', exitCode: 1 });
      expect((error as Error).message).toBe("error: option '--shard <i/n>' argument '3/3' is invalid. expected i/n with 0 <= i < n, e.g. 0/3");
    }
    expect(await readdir(dataDir)).toEqual([]);
    // Two-digit indexes and counts, and a single shard, are taken as written.
    for (const shard of ['2/3', '0/3', '0/1', '10/12', '11/12']) {
      const line = JSON.parse(await inProcess(cronCommand, ['ons', '--shard', shard, '--partition-by', 'edition', '--data-dir', dataDir], true)).line;
      expect(line).toContain(` --shard ${shard} `);
    }
    for (const bad of ['1/0', '-1/3', '1', '1/3/3', '12/12', '1/1']) {
      await expect(inProcess(cronCommand, ['ons', '--shard', bad, '--partition-by', 'edition'])).rejects.toThrow(/expected i\/n with 0 <= i < n/);
    }
  });
});
