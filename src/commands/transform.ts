import path from 'node:path';
import { Command, Option } from 'commander';
import { sweepDeadTempFiles } from '../core/atomic-file.js';
import type { AnySource } from '../core/source.js';
import { writeParquet, type ParquetSummary } from '../transform/parquet/write-parquet.js';
import { limitsHelp } from '../transform/workbook/limits.js';
import type { CommandContext } from './context.js';
import { createSourceIO } from './options.js';
import { addSourceSubcommands, parseSourceOptions } from './source-command.js';

export interface TransformFlags extends Record<string, unknown> {
  dataDir: string;
  out?: string;
  skipBad: boolean;
}

export function transformCommand(context: () => Promise<CommandContext>): Command {
  const command = new Command('transform')
    .description("turn what extract stored into one tidy parquet file")
    .addHelpText('after', `
Each source has its own options: etl transform <source> --help. \`etl datasets\` lists every dataset and its columns.

Examples:
  $ etl transform ons --out deaths.parquet                 every extracted edition, stacked
  $ etl transform ons --input ~/Downloads/ons-monthly/ -o deaths.parquet   no network needed
  $ etl transform climatempo forecast-daily --out forecast.parquet
  $ etl transform random-person people --out people.parquet

zstd-compressed parquet; the file is replaced only when every input was read; on a data error
(exit 4) the previous file is left as it was. Transform reads the raw layer only: it never calls a source.`)
    .addHelpText('after', limitsHelp());
  return addSourceSubcommands(command, 'transform', (sourceCommand, source) => {
    addTransformOptions(sourceCommand).action(async (datasetName: string | undefined, flags: TransformFlags) => {
      const ctx = await context();
      const summary = await transformToParquet(ctx, source, datasetName, flags);
      ctx.printResult(describeTransform(summary), { command: 'transform', ...summary });
    });
  });
}

export function addTransformOptions(command: Command): Command {
  return command
    .addOption(new Option('-o, --out <file>', 'parquet file to write (default: <data-dir>/processed/<source>/<dataset>.parquet)'))
    .addOption(new Option('--skip-bad', 'report and leave out an input file that does not look as declared, instead of failing').default(false));
}

export async function transformToParquet(ctx: CommandContext, source: AnySource, datasetName: string | undefined, flags: TransformFlags): Promise<ParquetSummary> {
  const options = parseSourceOptions(source, 'transform', flags);
  const io = createSourceIO({ timeout: 60, retries: 0 }, ctx.log);
  try {
    const table = await source.transform({ dataset: datasetName ?? source.defaultDataset, dataDir: flags.dataDir, options }, io);
    // Named after the table, so a declaration file's own name counts.
    const dataset = table.schema.name;
    const out = flags.out ?? path.join(flags.dataDir, 'processed', source.name, `${dataset}.parquet`);
    const swept = await sweepDeadTempFiles(path.dirname(out));
    if (swept.length > 0) ctx.log.info(`removed ${swept.length} temp file(s) an interrupted run left beside ${out}`);
    const progress = ctx.log.progress(`${dataset}: writing ${out}`);
    const summary = await writeParquet(table, out, {
      skipBadParts: flags.skipBad,
      onPartSkipped: (name, error) => ctx.log.warn(`skipped ${name}: ${error.message}`),
    }).catch((error: unknown) => {
      progress.fail(`${dataset}: nothing written`);
      throw error;
    });
    progress.done(`${dataset}: ${summary.rows} rows from ${filesCount(summary.parts.length)}`);
    return summary;
  } finally {
    await io.http.close();
  }
}

export function describeTransform(summary: ParquetSummary): string {
  const skipped = summary.skipped.length > 0 ? `, ${summary.skipped.length} skipped (${summary.skipped.map((s) => s.name).join(', ')})` : '';
  return `transform: ${summary.rows} rows from ${filesCount(summary.parts.length)}${skipped} -> ${summary.path}`;
}

const filesCount = (count: number): string => `${count} file${count === 1 ? '' : 's'}`;
