import { Command } from 'commander';
import type { ExtractReport } from '../core/source.js';
import { defaultDatasetOf } from '../run/source-adapter.js';
import { extractStep } from '../run/steps.js';
import type { CommandContext } from './context.js';
import { dataDirOption, fetchOptions, yearRangeOptions, type SourceFlags } from './options.js';

export function extractCommand(context: () => Promise<CommandContext>): Command {
  const command = new Command('extract')
    .description('download every edition of a dataset into the raw layer (only what changed since last time)')
    .argument('<source>', 'where the data comes from, e.g. ons')
    .argument('[dataset]', 'which dataset of the source (default: its first, e.g. monthly-deaths for ons)')
    .addOption(dataDirOption());
  for (const option of [...yearRangeOptions(), ...fetchOptions()]) command.addOption(option);
  return command
    .addHelpText('after', `
Examples:
  $ etl extract ons                               monthly deaths, every edition, into ./data/raw/ons/monthly-deaths/
  $ etl extract ons monthly-deaths --from 2015    only editions from 2015 on
  $ etl extract ons --url http://127.0.0.1:8080/page.html   a mirror or local copy of the page

A re-run asks the server for changes only (If-None-Match / If-Modified-Since) and downloads 0 bytes
when nothing changed. Each file is written atomically and checked against its sha256 before
data/raw/.../manifest.json lists it; a file on disk that no longer matches is fetched whole again.

Limits (each a flag):
  --timeout 30            seconds a connection may stay silent (no headers, or no body bytes)
  --download-timeout 300  seconds for one file or the page, retries and waits included
  --retries 4             429, 5xx, dropped connections and timeouts; not 4xx, DNS failures, redirect loops
  --max-links 500         workbook links a page may list
Redirects are followed on the same host only (at most 5); credentials in --url (user:pass@) are sent
as Basic auth and never written to the manifest or the output.`)
    .action(async (sourceName: string, datasetName: string | undefined, flags: SourceFlags) => {
      const ctx = await context();
      const report = await extractStep(
        { source: sourceName, dataset: datasetName ?? defaultDatasetOf(sourceName), dataDir: flags.dataDir, url: flags.url, fromYear: flags.from, toYear: flags.to, concurrency: flags.concurrency, maxLinks: flags.maxLinks },
        { timeoutSeconds: flags.timeout, downloadTimeoutSeconds: flags.downloadTimeout, retries: flags.retries },
        ctx.log,
      );
      ctx.printResult(describeExtract(report), { command: 'extract', ...summariseExtract(report) });
    });
}

export function summariseExtract(report: ExtractReport): Record<string, unknown> {
  const downloaded = report.files.filter((f) => f.status === 'downloaded');
  return {
    source: report.source,
    dataset: report.dataset,
    raw_dir: report.rawDir,
    editions: report.files.length,
    downloaded: downloaded.length,
    unchanged: report.files.filter((f) => f.status === 'unchanged').length,
    bytes: downloaded.reduce((sum, f) => sum + f.bytes, 0),
    files: report.files,
  };
}

export function describeExtract(report: ExtractReport): string {
  const s = summariseExtract(report);
  return `extract ${report.source} ${report.dataset}: ${s.editions} files, ${s.downloaded} downloaded (${s.bytes} bytes), ${s.unchanged} unchanged -> ${report.rawDir}`;
}
