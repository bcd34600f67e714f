import { Command, Option } from 'commander';
import type { PipelineRequest } from '../run/pipeline.js';
import { defaultDatasetOf } from '../run/source-adapter.js';
import { dataDirOption, fetchOptions, loadOptions, parseCount, transformOptions, yearRangeOptions, type LoadFlags, type SourceFlags, type TransformFlags } from './options.js';

/** `run`, `plan` and `cron` accept every flag of extract, transform and load, plus the pipeline's own. */
export interface PipelineFlags extends SourceFlags, TransformFlags, LoadFlags {
  /** commander's negation of --no-cache. */
  cache: boolean;
  stepRetries: number;
  alertUrl?: string;
  alertOnSuccess: boolean;
}

export function addPipelineOptions(command: Command): Command {
  command
    .argument('<source>', 'e.g. ons')
    .argument('[dataset]', 'e.g. monthly-deaths (the default for ons)')
    .addOption(dataDirOption());
  const own = [
    new Option('--no-cache', 'run every step even when its inputs are unchanged since its last successful run'),
    new Option('--step-retries <n>', 'extra attempts of a whole step after a failure that may pass next time (network, store)').argParser(parseCount).default(0),
    new Option('--alert-url <url>', 'POST a JSON summary here when the run fails').env('ETL_ALERT_URL'),
    new Option('--alert-on-success', 'also alert when the run succeeds').default(false),
  ];
  for (const option of [...yearRangeOptions(), ...fetchOptions(), ...transformOptions(), ...loadOptions(), ...own]) command.addOption(option);
  return command;
}

export function pipelineRequest(sourceName: string, datasetName: string | undefined, flags: PipelineFlags): PipelineRequest {
  return {
    source: {
      source: sourceName,
      dataset: datasetName ?? defaultDatasetOf(sourceName),
      dataDir: flags.dataDir,
      url: flags.url,
      fromYear: flags.from,
      toYear: flags.to,
      concurrency: flags.concurrency,
      inputs: flags.input,
      datasetFile: flags.datasetFile,
    },
    http: { timeoutSeconds: flags.timeout, retries: flags.retries },
    transform: { out: flags.out, skipBad: flags.skipBad },
    load: flags.bucket
      ? { bucket: flags.bucket, keyTemplate: flags.key, sink: { endpoint: flags.endpoint, region: flags.region }, concurrency: flags.concurrency, dryRun: flags.dryRun, force: flags.force }
      : undefined,
    noCache: !flags.cache,
    stepRetries: flags.stepRetries,
    alert: flags.alertUrl ? { url: flags.alertUrl, onSuccess: flags.alertOnSuccess } : undefined,
  };
}
