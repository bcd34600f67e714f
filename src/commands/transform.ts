import { Command } from 'commander';
import { limitsHelp } from '../transform/workbook/limits.js';
import type { CommandContext } from './context.js';
import { transformOptions, type TransformFlags } from './options.js';
import { addSourceSubcommands, checkDataset } from './source-command.js';

export function transformCommand(context: () => Promise<CommandContext>): Command {
  const command = new Command('transform')
    .description('turn what extract stored into one tidy parquet file (or a partitioned folder)')
    .addHelpText('after', `
Each source has its own options: etl transform <source> --help. \`etl datasets\` lists every dataset and its columns.

Examples:
  $ etl transform --out deaths.parquet                     what \`etl extract\` left in the data dir
  $ etl transform ons monthly-deaths --from 2019 -o recent.parquet
  $ etl transform ons --input ~/Downloads/ons-monthly/ -o deaths.parquet   no network needed
  $ etl transform ons weekly-deaths --out weekly.parquet
  $ etl transform climatempo forecast-daily --out forecast.parquet
  $ etl transform random-person people --out people.parquet
  $ etl transform ons --format delta --partition-by edition --out ./lake/monthly-deaths/   a Delta table: one commit per run

With no source named, transform reads the one dataset the data dir holds extracted (several: it
lists them and asks you to name one). The file written is recorded in the data dir, so a following
\`etl load --bucket …\` with no files uploads it.

Each dataset's output columns: etl transform <source> --help (as declared; \`etl datasets\` says what
each means). A label the declaration does not know is kept with null canonical fields and
warned about once. GZIP-compressed parquet; the file is replaced only when every input was read; on a
data error (exit 4) the previous file is left as it was. Transform reads the raw layer only: it never
calls a source. Each raw file must still be the one its manifest lists (sha256), and while an extract
of the same dataset is writing, transform exits 75 at once without reading anything.`)
    .addHelpText('after', limitsHelp());
  return addSourceSubcommands(
    command,
    'transform',
    (sourceCommand, source) => {
      for (const option of transformOptions()) sourceCommand.addOption(option);
      sourceCommand.action(async (datasetName: string | undefined, flags: TransformFlags & { dataDir: string } & Record<string, unknown>) => {
        const ctx = await context();
        const [{ describeTransform, transformStep, withRawLock }, { inputsOf }] = await Promise.all([import('../run/steps.js'), import('../run/source-adapter.js')]); // Loaded when the command runs, not at start-up
        const params = { source: source.name, dataset: checkDataset(source, datasetName), dataDir: flags.dataDir, concurrency: 1, rateLimit: 0, flags };
        const { parseFormat, parseMergeKey } = await import('../delta/options.js');
        const format = parseFormat(flags.format);
        const transform = () => transformStep(params, { out: flags.out, skipBad: flags.skipBad, partitionBy: flags.partitionBy, format, mergeKey: parseMergeKey(flags.mergeKey, format) }, ctx.log);
        // --input reads workbooks where they are, not the raw layer: no extract to wait for.
        const { summary, delta } = inputsOf(params) ? await transform() : await withRawLock(params, ctx.log, transform);
        const { describeDeltaCommit } = await import('../delta/run-delta.js');
        ctx.printResult(delta ? `${describeTransform(summary)}\n${describeDeltaCommit(delta)}` : describeTransform(summary), { command: 'transform', ...summary, ...(delta ? { delta } : {}) });
      });
    },
    async (args) => {
      const { onlyExtractedDataset } = await import('../run/data-dir.js');
      const { source, dataset } = await onlyExtractedDataset(dataDirIn(args));
      await command.commands.find((sub) => sub.name() === source)!.parseAsync([dataset, ...args], { from: 'user' });
    },
  );
}

/** --data-dir as given among arguments no command has parsed yet; else ETL_DATA_DIR; else ./data. */
function dataDirIn(args: readonly string[]): string {
  for (const [i, arg] of args.entries()) {
    if (arg === '--data-dir' && args[i + 1] !== undefined) return args[i + 1]!;
    if (arg.startsWith('--data-dir=')) return arg.slice('--data-dir='.length);
  }
  return process.env.ETL_DATA_DIR ?? 'data';
}
