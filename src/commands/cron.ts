import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import type { CommandContext } from './context.js';
import { addPipelineOptions, pipelineRequest, type PipelineFlags } from './pipeline-flags.js';
import { PIPELINE_EXIT_CODES } from './run.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/etl.js');
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
    .addOption(new Option('--schedule <expr>', 'five cron fields, e.g. "15 6 * * *" (06:15 daily)').default('15 6 * * *'))
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
\`etl run\` as given. Put global flags (--json) before \`cron\` to have them in the line.
${PIPELINE_EXIT_CODES}`)
    .action(async (sourceName: string | undefined, datasetName: string | undefined, flags: CronFlags, command: Command) => {
      const ctx = await context();
      const request = await pipelineRequest(sourceName, datasetName, flags, command);
      const { pipelineSlug } = await import('../run/pipeline.js');
      const log = path.resolve(flags.log ?? path.join('/var/log/etl', `${pipelineSlug(request)}.log`));
      const global = ctx.global.json ? '--json' : '--quiet';
      const node = [process.execPath, ...(flags.envVars ? [`--env-file=${path.resolve(flags.envVars)}`] : [])];
      const runArgs = ['run', ...[sourceName, datasetName].filter((arg): arg is string => arg !== undefined), ...passThroughFlags(command)];
      const line = `${flags.schedule} cd ${shellQuote(process.cwd())} && ${[...node, BIN, global, ...runArgs].map(shellQuote).join(' ')} >>${shellQuote(log)} 2>&1`;
      const comment = `# etl ${request.name}: the log's directory must exist and be writable by this user; rotate it with logrotate (copytruncate)`;
      ctx.printResult(`${comment}\n${line}`, { command: 'cron', line, log });
    });
}

/** The flags given on the command line (not from the environment), minus those that shape the line. */
function passThroughFlags(command: Command): string[] {
  const args: string[] = [];
  for (const option of command.options) {
    const key = option.attributeName();
    if (!option.long || CRON_ONLY.includes(option.long) || command.getOptionValueSource(key) !== 'cli') continue;
    const value: unknown = command.getOptionValue(key);
    if (typeof value === 'boolean') args.push(option.long);
    else if (!Array.isArray(value)) args.push(option.long, String(value));
    else if (option.variadic) args.push(option.long, ...value.map(String));
    else for (const item of value) args.push(option.long, String(item));
  }
  return args;
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
