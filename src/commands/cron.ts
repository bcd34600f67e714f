import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { Command, Option } from 'commander';
import { ConfigError, errorMessage } from '../core/errors.js';
import { checkCronSchedule } from '../run/cron-schedule.js';
import type { Shard } from '../core/source.js';
import type { CommandContext } from './context.js';
import { addPipelineOptions, pipelineRequest, type PipelineFlags } from './pipeline-flags.js';
import { PIPELINE_EXIT_CODES } from './run.js';
import { PACKAGE_ROOT } from '../version.js';

const BIN = path.join(PACKAGE_ROOT, 'bin', 'etl.js');
/** Flags that shape the line itself and are not passed on to `etl run`. */
const CRON_ONLY = ['--schedule', '--log', '--env-vars'];

interface CronFlags extends PipelineFlags {
  schedule: string;
  log?: string;
  envVars?: string;
}

export function cronCommand(context: () => Promise<CommandContext>): Command {
  return addPipelineOptions(new Command('cron'))
    .description('print a crontab line that runs this pipeline with `etl run` (install it with crontab -e)')
    .addOption(new Option('--schedule <expr>', 'five cron fields, e.g. "15 6 * * *" (06:15 daily), or @daily, @hourly, … (checked: ranges, names, lists, steps)').default('15 6 * * *'))
    .addOption(new Option('--log <file>', 'append the run\'s output here (default: /var/log/etl/<source>-<dataset>.log)'))
    // Not --env-file: node 20 takes that flag from anywhere on its command line.
    .addOption(new Option('--env-vars <file>', 'KEY=value lines (credentials, ETL_ALERT_URL) loaded by node (--env-file) before etl starts'))
    .addHelpText('after', `
Examples:
  $ etl cron ons --schedule "15 6 * * *" --bucket gs://lake/ons/
  $ (crontab -l; etl cron ons --bucket s3://lake/ons/ --env-vars /etc/etl.env) | crontab -

The line uses absolute paths to node and to this etl (no npx, no PATH from cron), runs from the
current directory (so a relative --data-dir stays where it is) and appends quiet output to the log:
one summary line per successful run, warnings and errors otherwise. Every other flag is passed to
\`etl run\` as given, and a flag set here through its variable (ETL_DATA_DIR, ONS_URL, …) is written
into the line, as cron does not have this shell's environment (ETL_ALERT_URL excepted: put it in the
--env-vars file). The run's own checks are made first (destination, region, --env-vars readable):
a line is printed only when it can run. Put global flags (--json) before \`cron\` to have them in the line.
${PIPELINE_EXIT_CODES}`)
    .action(async (sourceName: string | undefined, datasetName: string | undefined, flags: CronFlags, command: Command) => {
      const ctx = await context();
      const schedule = checkCronSchedule(flags.schedule);
      const envFile = flags.envVars === undefined ? undefined : path.resolve(flags.envVars);
      const fromEnvFile = envFile === undefined ? {} : await readEnvFile(envFile);
      // What the run would refuse, refused now, with the variables the job will be given (--env-vars) in place.
      const request = await withEnvironment(fromEnvFile, async () => {
        const built = await pipelineRequest(sourceName, datasetName, flags, command);
        await (await import('../run/check-pipeline.js')).checkPipeline(built);
        return built;
      });
      for (const name of ['AWS_REGION', 'ETL_ALERT_URL']) {
        if (process.env[name] !== undefined && !(name in fromEnvFile) && !(name === 'AWS_REGION' && flags.region !== undefined)) {
          ctx.log.warn(`${name} is set in this shell but cron will not see it: put it in the --env-vars file${name === 'AWS_REGION' ? ' or pass --region' : ''}`);
        }
      }
      const { pipelineSlug } = await import('../run/pipeline.js');
      const log = path.resolve(flags.log ?? path.join('/var/log/etl', `${pipelineSlug(request)}.log`));
      const global = ctx.global.json ? '--json' : '--quiet';
      const node = [process.execPath, ...(envFile ? [`--env-file=${envFile}`] : [])];
      const runArgs = ['run', ...[sourceName, datasetName].filter((arg): arg is string => arg !== undefined), ...passThroughFlags(command, fromEnvFile)];
      const words = [...node, BIN, global, ...runArgs];
      const newline = [process.cwd(), log, ...words].find((word) => /[\r\n]/.test(word));
      if (newline !== undefined) throw new ConfigError(`${JSON.stringify(newline)} holds a line break, which a crontab line cannot`, { hint: 'rename the path or value' });
      // cron turns an unescaped % into a newline (and feeds the rest to the command's stdin); \% reaches the shell as %.
      const shellCommand = `cd ${shellQuote(process.cwd())} && ${words.map(shellQuote).join(' ')} >>${shellQuote(log)} 2>&1`.replace(/%/g, '\\%');
      const line = `${schedule} ${shellCommand}`;
      const comment = `# etl ${request.name}: the log's directory must exist and be writable by this user; rotate it with logrotate (copytruncate)`;
      ctx.printResult(`${comment}\n${line}`, { command: 'cron', line, log });
    });
}

/** KEY=value lines as node --env-file reads them; a file that is missing or unreadable is refused now, not on every tick (node exits 9). */
async function readEnvFile(file: string): Promise<Record<string, string>> {
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new ConfigError(`--env-vars ${file}: cannot read it (${errorMessage(error)})`, { hint: 'give a KEY=value file readable by the user whose crontab runs the line' });
  });
  return parseEnv(text) as Record<string, string>;
}

/** Runs `work` with the variables set (those not already set), then puts the environment back. */
async function withEnvironment<T>(variables: Record<string, string>, work: () => Promise<T>): Promise<T> {
  const added = Object.keys(variables).filter((name) => process.env[name] === undefined);
  for (const name of added) process.env[name] = variables[name];
  try {
    return await work();
  } finally {
    for (const name of added) delete process.env[name];
  }
}

/**
 * The flags given on the command line, minus those that shape the line, and those taken from this shell's
 * environment (ETL_DATA_DIR, ONS_URL, …), which cron would not have, unless the --env-vars file sets them. The
 * alert webhook's variable is left out: its URL holds a token, which belongs in the --env-vars file.
 */
function passThroughFlags(command: Command, fromEnvFile: Record<string, string>): string[] {
  const args: string[] = [];
  for (const option of command.options) {
    const key = option.attributeName();
    const source = command.getOptionValueSource(key);
    if (!option.long || CRON_ONLY.includes(option.long)) continue;
    if (source !== 'cli' && !(source === 'env' && option.envVar !== undefined && option.envVar !== 'ETL_ALERT_URL' && !(option.envVar in fromEnvFile))) continue;
    const value: unknown = command.getOptionValue(key);
    if (typeof value === 'boolean') args.push(option.long);
    // --shard is parsed into {index, count}: given back as the i/n it was given as.
    else if (isShard(value)) args.push(option.long, `${value.index}/${value.count}`);
    else if (!Array.isArray(value)) args.push(option.long, String(value));
    else if (option.variadic) args.push(option.long, ...value.map(String));
    else for (const item of value) args.push(option.long, String(item));
  }
  return args;
}

function isShard(value: unknown): value is Shard {
  return typeof value === 'object' && value !== null && 'index' in value && 'count' in value;
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
