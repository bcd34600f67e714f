import { Command, Option } from 'commander';
import { describeSummary, failIfAnyFailed, loadFiles } from '../load/load-files.js';
import { DEFAULT_KEY_TEMPLATE } from '../load/object-key.js';
import type { CommandContext } from './context.js';
import { describeExtract, summariseExtract } from './extract.js';
import { loadSummaryJson } from './load.js';
import { addSourceSubcommands, extractSource, type FetchFlags } from './source-command.js';
import { addTransformOptions, describeTransform, transformToParquet, type TransformFlags } from './transform.js';

interface RunFlags extends FetchFlags, TransformFlags {
  bucket?: string;
  endpoint?: string;
}

export function runCommand(context: () => Promise<CommandContext>): Command {
  const command = new Command('run')
    .description('extract, transform and (with --bucket) load in one go: the command for a crontab line');
  command.addHelpText('after', `
Without --bucket the parquet file stays in the local data directory. With --bucket it is uploaded as
\`etl load\` does: verified, and skipped when the bucket already holds the same content.

Example crontab line (06:15 every day; logs as JSON lines, exit code tells cron what happened). Use the
installed bin's absolute path (\`command -v etl\`), not npx: see "Install on a VM" in the README.
  15 6 * * *  ETL_DATA_DIR=/var/lib/etl /usr/local/bin/etl --json run ons --bucket gs://my-bucket/ons/ >>/var/log/etl.jsonl 2>&1`);
  return addSourceSubcommands(command, 'run', (sourceCommand, source) => addTransformOptions(sourceCommand)
    .addOption(new Option('--bucket <uri>', 'also upload the parquet file: gs://bucket/prefix/, s3://bucket/prefix/ or file:///dir/ (default: keep it in <data-dir>/processed/)'))
    .addOption(new Option('--endpoint <url>', 'with --bucket: an emulator or S3-compatible server'))
    .action(async (datasetName: string | undefined, flags: RunFlags) => {
      const ctx = await context();
      const extractReport = await extractSource(source, datasetName, flags, ctx.log);
      if (!ctx.global.json) ctx.log.info(describeExtract(extractReport));
      const summary = await transformToParquet(ctx, source, extractReport.dataset, flags);
      if (!flags.bucket) {
        ctx.printResult(describeTransform(summary), { command: 'run', extract: summariseExtract(extractReport), transform: summary });
        return;
      }
      if (!ctx.global.json) ctx.log.info(describeTransform(summary));
      const loaded = await loadFiles({
        inputs: [summary.path],
        bucket: flags.bucket,
        keyTemplate: DEFAULT_KEY_TEMPLATE,
        sink: { endpoint: flags.endpoint, region: undefined },
        concurrency: 1,
        dryRun: false,
        force: false,
        log: ctx.log,
      });
      ctx.printResult(describeSummary(loaded), { command: 'run', extract: summariseExtract(extractReport), transform: summary, load: loadSummaryJson(loaded) });
      failIfAnyFailed(loaded);
    }));
}
