import { Command, CommanderError, Option } from 'commander';
import { ConfigError } from '../core/errors.js';
import { checkIdentifier } from '../core/names.js';
import type { Logger } from '../core/log.js';
import { envPrefix, type AnySource, type ExtractReport, type SourceFlag } from '../core/source.js';
import { sources } from '../sources/index.js';
import { commandsWithOwnUsageErrors } from './index.js';
import { dataDirOption, fetchOptions } from './options.js';

/**
 * Each stage (extract, transform) has one subcommand per registered source, generated here, so a
 * source's own flags appear in its help (`etl extract climatempo --help`) and another source refuses
 * them with a usage error. A source's flags are typed and validated once, by its schema, here.
 */
export type Stage = 'extract' | 'transform';

/** Flags every source's extract takes. */
export interface FetchFlags {
  dataDir: string;
  baseUrl?: string;
  concurrency: number;
  timeout: number;
  downloadTimeout: number;
  retries: number;
  rateLimit: number;
}

/**
 * `noSource` is called when the first argument is not a source (none given, or an option): it gets
 * the arguments as given and may run one of the generated subcommands itself.
 */
export function addSourceSubcommands(parent: Command, stage: Stage, configure: (command: Command, source: AnySource) => void, noSource?: (args: string[]) => Promise<void>): Command {
  // A stage that can do without a source (transform: what the data dir holds) says so in its usage.
  const sourceArgument = noSource ? '[source]' : '<source>';
  parent.usage(`${sourceArgument} [dataset] [options]`);
  for (const source of sources) {
    const datasets = source.datasets.map((d) => d.name);
    const command = new Command(source.name)
      .description(source.description)
      .argument('[dataset]', `one of: ${datasets.join(', ')} (default: ${source.defaultDataset})`)
      .exitOverride((error) => refuseUsage(error, stage, source))
      .configureOutput({ outputError: () => {} });
    const flags = new Set<string>();
    const add = (option: Option): void => {
      if (flags.has(option.long!)) return; // a flag a source declares and the stage adds too, once
      flags.add(option.long!);
      command.addOption(option);
    };
    if (stage !== 'transform') for (const flag of source.extractOptions.flags) add(flagOption(flag));
    if (stage !== 'extract') for (const flag of source.transformOptions.flags) add(flagOption(flag));
    configure(command, source);
    add(dataDirOption());
    if (stage !== 'transform') {
      if (source.baseUrl) add(new Option('--base-url <url>', `where the API lives (default: ${source.baseUrl})`).env(`${envPrefix(source.name)}_BASE_URL`));
      for (const option of fetchOptions()) add(option);
    }
    command.addHelpText('after', sourceHelp(source, stage));
    commandsWithOwnUsageErrors.add(command);
    parent.addCommand(command);
  }
  // Reached only when the first argument names no source; its flags are the source's business, not an error here.
  return parent
    .argument(sourceArgument, `one of: ${sources.map((s) => s.name).join(', ')}${noSource ? ' (default: the one the data dir holds)' : ''}`)
    .argument('[dataset]')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (...args: unknown[]) => {
      const given = (args.at(-1) as Command).args;
      const name = given[0] ?? '-';
      if (name.startsWith('-') && noSource) return noSource(given);
      if (name.startsWith('-')) throw new ConfigError("missing required argument 'source'", { hint: `etl ${stage} --help lists the sources` });
      throw new ConfigError(`unknown source "${name}"`, { hint: `choose one of: ${sources.map((s) => s.name).join(', ')}` });
    });
}

/** A usage error names the command whose help lists the options, and the source an option belongs to. */
function refuseUsage(error: CommanderError, stage: Stage, source: AnySource): never {
  if (error.exitCode === 0) throw error; // --help
  const flag = /unknown option '([^']+)'/.exec(error.message)?.[1];
  const owners = flag ? sourceFlagOwners(flag) : [];
  const belongs = owners.length > 0 ? ` (it belongs to ${owners.join(', ')})` : '';
  // Commander's "(Did you mean …?)" goes on a second line; an error is one line, and the owner says more.
  const message = error.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
  throw new ConfigError(owners.length > 0 ? message.replace(/ \(Did you mean [^)]*\)/, '') + belongs : message, { hint: `run etl ${stage} ${source.name} --help for usage` });
}

/** The commands whose source declares this flag, e.g. `etl extract climatempo`. */
export function sourceFlagOwners(flag: string): string[] {
  const declares = (flags: readonly SourceFlag[]): boolean => flags.some((f) => f.flags.split(/[ ,]+/).includes(flag));
  return sources.flatMap((s) => [...(declares(s.extractOptions.flags) ? [`etl extract ${s.name}`] : []), ...(declares(s.transformOptions.flags) ? [`etl transform ${s.name}`] : [])]);
}

export function flagOption(flag: SourceFlag): Option {
  const option = new Option(flag.flags, flag.description);
  if (flag.list) option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), ...value.split(',').map((v) => v.trim()).filter(Boolean)]);
  if (flag.env) option.env(flag.env);
  return option;
}

/** A stage's own notes, the output columns from the dataset declarations, and the environment extract reads. */
function sourceHelp(source: AnySource, stage: Stage): string {
  const notes = [source.help[stage]];
  const env = [
    ...source.env.map((v) => `  ${v.name.padEnd(26)} ${v.description}${v.secret ? ' (secret: environment or .env only, never a flag)' : ''}`),
    ...(source.baseUrl ? [`  ${`${envPrefix(source.name)}_BASE_URL`.padEnd(26)} same as --base-url`] : []),
  ];
  return [
    ...notes.map((text) => text.trim()),
    ...(stage === 'extract' ? [] : [outputColumnsHelp(source)]),
    ...(stage !== 'transform' && env.length > 0 ? [`Environment (also read from ./.env):\n${env.join('\n')}`] : []),
  ].map((block) => `\n${block}`).join('\n');
}

const MAX_HELP_COLUMNS = 16;

/** `Output columns (monthly-deaths): edition INT32, …` for each dataset, as declared; a long list is cut, `etl datasets` has it all. */
function outputColumnsHelp(source: AnySource): string {
  const lines = source.datasets.map((dataset) => {
    const shown = dataset.columns.slice(0, dataset.columns.length > MAX_HELP_COLUMNS ? MAX_HELP_COLUMNS - 4 : MAX_HELP_COLUMNS);
    const more = dataset.columns.length - shown.length;
    const columns = shown.map((c) => `${c.name} ${c.type.toUpperCase()}${c.nullable ? '?' : ''}`).join(', ') + (more > 0 ? `, … (${more} more)` : '');
    return wrap(`  ${dataset.name}: ${columns}`, 100, '    ');
  });
  return `Output columns (? nullable; \`etl datasets\` says what each means):\n${lines.join('\n')}`;
}

function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/(?<=, )/)) {
    if (line.length + word.length > width && line.trim() !== '') {
      lines.push(line.trimEnd());
      line = indent;
    }
    line += word;
  }
  return [...lines, line.trimEnd()].join('\n');
}

export function checkDataset(source: AnySource, dataset: string | undefined): string {
  const name = checkIdentifier(dataset ?? source.defaultDataset, 'dataset');
  if (!source.datasets.some((d) => d.name === name)) {
    throw new ConfigError(`${source.name} has no dataset "${name}"`, { hint: `choose one of: ${source.datasets.map((d) => d.name).join(', ')}` });
  }
  return name;
}

/** The one call that runs any source's extract from its subcommand's flags. */
export async function extractSource(source: AnySource, dataset: string | undefined, flags: FetchFlags & Record<string, unknown>, log: Logger): Promise<ExtractReport> {
  const { extractStep, withRawLock } = await import('../run/steps.js'); // Loaded when the command runs, not at start-up (`etl --help` stays fast)
  const params = { source: source.name, dataset: checkDataset(source, dataset), dataDir: flags.dataDir, baseUrl: flags.baseUrl, concurrency: flags.concurrency, rateLimit: flags.rateLimit, flags };
  // Checked before the lock and the first request: a flag that cannot work leaves the data dir as it was.
  const { baseUrlOf, parseSourceOptions } = await import('../run/source-adapter.js');
  baseUrlOf(params);
  await parseSourceOptions(source, 'extract', flags);
  return withRawLock(params, log, () => extractStep(params, { timeoutSeconds: flags.timeout, downloadTimeoutSeconds: flags.downloadTimeout, retries: flags.retries }, log));
}
