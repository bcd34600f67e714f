import { Command } from 'commander';
import type { ExtractReport } from '../core/source.js';
import type { CommandContext } from './context.js';
import { addSourceSubcommands, extractSource, type FetchFlags } from './source-command.js';
import { plural } from '../core/plural.js';

export function extractCommand(context: () => Promise<CommandContext>): Command {
  const command = new Command('extract')
    .description('download a dataset of a source into the raw layer (<data-dir>/raw/<source>/<dataset>/)')
    .addHelpText('after', `
Each source has its own options: etl extract <source> --help.

Examples:
  $ etl extract ons                               monthly deaths, every edition, into ./data/raw/ons/monthly-deaths/
  $ etl extract climatempo forecast-hourly --city 3477 --city 5959    CLIMATEMPO_TOKEN from env or .env
  $ etl extract random-person people --count 12000 --seed etl --nat gb,br

Every file is written atomically and listed in data/raw/.../manifest.json with its size and sha256.`);
  return addSourceSubcommands(command, 'extract', (sourceCommand, source) => {
    sourceCommand.action(async (datasetName: string | undefined, flags: FetchFlags & Record<string, unknown>) => {
      const ctx = await context();
      const report = await extractSource(source, datasetName, flags, ctx.log);
      ctx.printResult(describeExtract(report), { command: 'extract', ...summariseExtract(report) });
    });
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
  return `extract ${report.source} ${report.dataset}: ${plural(report.files.length, 'file')}, ${s.downloaded} downloaded (${plural(s.bytes as number, 'byte')}), ${s.unchanged} unchanged -> ${report.rawDir}`;
}
