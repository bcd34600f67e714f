import path from 'node:path';
import { Command, Option } from 'commander';
import { findSource } from '../extract/index.js';
import { sweepDeadTempFiles } from '../core/atomic-file.js';
import { writeParquet, type ParquetSummary } from '../transform/parquet/write-parquet.js';
import { limitsHelp } from '../transform/workbook/limits.js';
import type { CommandContext } from './context.js';
import { createSourceIO, dataDirOption, datasetFileOption, yearRangeOptions, type SourceFlags } from './options.js';

export interface TransformFlags extends Pick<SourceFlags, 'dataDir' | 'from' | 'to'> {
  out?: string;
  input?: string[];
  /** A JSON dataset declaration used instead of the built-in dataset. */
  datasetFile?: string;
  skipBad: boolean;
}

export function transformCommand(context: () => Promise<CommandContext>): Command {
  const command = new Command('transform')
    .description('turn the extracted workbooks into one tidy parquet file')
    .argument('<source>', 'e.g. ons')
    .argument('[dataset]', 'e.g. monthly-deaths (the default for ons)')
    .addOption(new Option('-o, --out <file>', 'parquet file to write (default: <data-dir>/processed/<source>/<dataset>.parquet)'))
    .addOption(new Option('--input <workbooks...>', 'read these workbooks (or every workbook in these directories) instead of the raw layer; the edition comes from the sheet name'))
    .addOption(datasetFileOption())
    .addOption(new Option('--skip-bad', 'report and leave out a workbook that does not look as declared, instead of failing').default(false))
    .addOption(dataDirOption());
  for (const option of yearRangeOptions()) command.addOption(option);
  return command
    .addHelpText('after', `
Examples:
  $ etl transform ons --out deaths.parquet                 every extracted edition, stacked
  $ etl transform ons monthly-deaths --from 2019 -o recent.parquet
  $ etl transform ons --input Monthly2019Mortality.xls -o 2019.parquet
  $ etl transform ons --input ~/Downloads/ons-monthly/ -o deaths.parquet   no network needed
  $ etl transform ons weekly-deaths --out weekly.parquet
  $ etl transform ons --dataset-file births.json --input births2021.xlsx -o births.parquet

Output (monthly-deaths): edition INT32, period DATE, geo_code STRING?, geo_code_extra STRING?,
geo_name STRING, geo_level STRING (total, country, region, county, local_authority, non_resident:
sum one level at a time), deaths INT64?, source_file STRING. Output (weekly-deaths): edition INT32,
week_number INT32, week_ended DATE, measure STRING?, sex STRING?, age_band STRING?, area_code STRING?,
area_name STRING?, label_as_printed STRING, deaths INT64? (counts), deaths_average DOUBLE? (averages),
source_file STRING. A label the declaration does not know is kept with null canonical fields and
warned about once. \`etl datasets\` lists every dataset and its columns. zstd-compressed parquet; the file is replaced
only when every workbook was read; on a data error (exit 4) the previous file is left as it was.`)
    .addHelpText('after', limitsHelp())
    .action(async (sourceName: string, datasetName: string | undefined, flags: TransformFlags) => {
      const ctx = await context();
      const summary = await transformToParquet(ctx, sourceName, datasetName, flags);
      ctx.printResult(describeTransform(summary), { command: 'transform', ...summary });
    });
}

export async function transformToParquet(ctx: CommandContext, sourceName: string, datasetName: string | undefined, flags: TransformFlags): Promise<ParquetSummary> {
  const source = findSource(sourceName);
  const io = createSourceIO({ timeout: 60, retries: 0 }, ctx.log);
  try {
    const request = { dataset: datasetName ?? source.defaultDataset, datasetFile: flags.datasetFile, dataDir: flags.dataDir, inputs: flags.input, fromYear: flags.from, toYear: flags.to };
    const table = await source.transform(request, io);
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
    progress.done(`${dataset}: ${summary.rows} rows from ${summary.parts.length} workbooks`);
    return summary;
  } finally {
    await io.http.close();
  }
}

export function describeTransform(summary: ParquetSummary): string {
  const skipped = summary.skipped.length > 0 ? `, ${summary.skipped.length} skipped (${summary.skipped.map((s) => s.name).join(', ')})` : '';
  return `transform: ${summary.rows} rows from ${summary.parts.length} workbooks${skipped} -> ${summary.path}`;
}
