import { Command } from 'commander';
import { onlyExtractedDataset } from '../run/data-dir.js';
import { defaultDatasetOf } from '../run/source-adapter.js';
import { describeTransform, transformStep } from '../run/steps.js';
import { limitsHelp } from '../transform/workbook/limits.js';
import type { CommandContext } from './context.js';
import { dataDirOption, transformOptions, yearRangeOptions, type SourceFlags, type TransformFlags } from './options.js';

export function transformCommand(context: () => Promise<CommandContext>): Command {
  const command = new Command('transform')
    .description('turn the extracted workbooks into one tidy parquet file')
    .argument('[source]', 'e.g. ons (default: the one dataset the data dir holds extracted)')
    .argument('[dataset]', 'e.g. monthly-deaths (the default for ons)')
    .addOption(dataDirOption());
  for (const option of [...transformOptions(), ...yearRangeOptions()]) command.addOption(option);
  return command
    .addHelpText('after', `
Examples:
  $ etl transform --out deaths.parquet                     what \`etl extract\` left in the data dir
  $ etl transform ons monthly-deaths --from 2019 -o recent.parquet
  $ etl transform ons --input Monthly2019Mortality.xls -o 2019.parquet
  $ etl transform ons --input ~/Downloads/ons-monthly/ -o deaths.parquet   no network needed
  $ etl transform ons weekly-deaths --out weekly.parquet
  $ etl transform ons --dataset-file births.json --input births2021.xlsx -o births.parquet

With no source named, transform reads the one dataset the data dir holds extracted (several: it
lists them and asks you to name one). The file written is recorded in the data dir, so a following
\`etl load --bucket …\` with no files uploads it.

Output (monthly-deaths): edition INT32, period DATE, geo_code STRING?, geo_code_extra STRING?,
geo_name STRING, geo_level STRING (total, country, region, county, local_authority, non_resident:
sum one level at a time), deaths INT64?, source_file STRING. Output (weekly-deaths): edition INT32,
week_number INT32, week_ended DATE, measure STRING?, sex STRING?, age_band STRING?, area_code STRING?,
area_name STRING?, label_as_printed STRING, deaths INT64? (counts), deaths_average DOUBLE? (averages),
source_file STRING. A label the declaration does not know is kept with null canonical fields and
warned about once. \`etl datasets\` lists every dataset and its columns. zstd-compressed parquet; the file is replaced
only when every workbook was read; on a data error (exit 4) the previous file is left as it was.`)
    .addHelpText('after', limitsHelp())
    .action(async (sourceName: string | undefined, datasetName: string | undefined, flags: TransformFlags & Pick<SourceFlags, 'dataDir' | 'from' | 'to'>) => {
      const ctx = await context();
      const { source, dataset } = sourceName
        ? { source: sourceName, dataset: datasetName ?? defaultDatasetOf(sourceName) }
        : await onlyExtractedDataset(flags.dataDir);
      const { summary } = await transformStep(
        { source, dataset, dataDir: flags.dataDir, fromYear: flags.from, toYear: flags.to, concurrency: 1, inputs: flags.input, datasetFile: flags.datasetFile },
        { out: flags.out, skipBad: flags.skipBad, partitionBy: flags.partitionBy },
        ctx.log,
      );
      ctx.printResult(describeTransform(summary), { command: 'transform', ...summary });
    });
}
