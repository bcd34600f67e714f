import { Command, Option } from 'commander';
import { findSource } from '../extract/index.js';
import type { CommandContext } from './context.js';
import { describeExtract, summariseExtract } from './extract.js';
import { createSourceIO, dataDirOption, fetchOptions, yearRangeOptions, type SourceFlags } from './options.js';
import { describeTransform, transformToParquet } from './transform.js';

interface RunFlags extends SourceFlags {
  out?: string;
  skipBad: boolean;
}

export function runCommand(context: () => Promise<CommandContext>): Command {
  const command = new Command('run')
    .description('extract then transform in one go: the command for a crontab line')
    .argument('<source>', 'e.g. ons')
    .argument('[dataset]', 'e.g. monthly-deaths (the default for ons)')
    .addOption(new Option('-o, --out <file>', 'parquet file to write (default: <data-dir>/processed/<source>/<dataset>.parquet)'))
    .addOption(new Option('--skip-bad', 'report and leave out a workbook that does not look as declared').default(false))
    .addOption(dataDirOption());
  for (const option of [...yearRangeOptions(), ...fetchOptions()]) command.addOption(option);
  return command
    .addHelpText('after', `
Example crontab line (06:15 every day; logs as JSON lines, exit code tells cron what happened):
  15 6 * * *  cd /srv/etl && npx etl --json run ons --out /srv/lake/deaths.parquet >>/var/log/etl.jsonl 2>&1`)
    .action(async (sourceName: string, datasetName: string | undefined, flags: RunFlags) => {
      const ctx = await context();
      const source = findSource(sourceName);
      const dataset = datasetName ?? source.defaultDataset;
      const io = createSourceIO(flags, ctx.log);
      let extractReport;
      try {
        extractReport = await source.extract({ dataset, dataDir: flags.dataDir, url: flags.url, fromYear: flags.from, toYear: flags.to, concurrency: flags.concurrency }, io);
      } finally {
        await io.http.close();
      }
      if (!ctx.global.json) ctx.log.info(describeExtract(extractReport));
      const summary = await transformToParquet(ctx, source.name, dataset, flags);
      ctx.printResult(describeTransform(summary), { command: 'run', extract: summariseExtract(extractReport), transform: summary });
    });
}
