import { Command } from 'commander';
import type { WorkbookDataset, WorkbookLayout } from '../transform/layout/dataset.js';
import { loadDatasetFile } from '../transform/layout/dataset-file.js';
import { onsDatasets } from '../transform/datasets/index.js';
import type { CommandContext } from './context.js';
import { datasetFileOption } from './options.js';

export function datasetsCommand(context: () => Promise<CommandContext>): Command {
  return new Command('datasets')
    .description('list the declared workbook datasets: page, layouts and output columns')
    .addOption(datasetFileOption())
    .addHelpText('after', `
Examples:
  $ etl datasets                           the built-in ONS datasets
  $ etl --json datasets                    the same as JSON
  $ etl datasets --dataset-file my.json    check a declaration file and show it as the engine reads it`)
    .action(async (flags: { datasetFile?: string }) => {
      const ctx = await context();
      const datasets = flags.datasetFile ? [await loadDatasetFile(flags.datasetFile)] : onsDatasets;
      ctx.printResult(datasets.map(describeDataset).join('\n\n'), { command: 'datasets', source: 'ons', datasets });
    });
}

function describeDataset(dataset: WorkbookDataset): string {
  return [
    `ons ${dataset.name}: ${dataset.title}`,
    `  version:  ${dataset.version ?? 1}`,
    `  page:     ${dataset.pageUrl}`,
    `  releases: ${dataset.releases}`,
    ...dataset.layouts
      .flatMap((layout) => [describeLayout(layout), ...(layout.companions ?? []).map((companion) => describeLayout(companion, layout.name))])
      .map((line, i) => `  ${i === 0 ? 'layouts: ' : '         '} ${line}`),
    `  columns:  ${dataset.columns.map((c) => `${c.name} ${c.type.toUpperCase()}${c.nullable ? '?' : ''}`).join(', ')}`,
    ...dataset.columns.map((c) => `    ${c.name.padEnd(17)} ${c.description ?? ''}`.trimEnd()),
  ].join('\n');
}

function describeLayout(layout: WorkbookLayout, companionOf?: string): string {
  const periods = layout.periods.map((p) => `${p.field} (${p.parse})`).join(', ');
  const axis = layout.periodAxis === 'columns' ? `periods across columns: ${periods}` : `periods down rows: ${periods}; ${layout.values.length} value columns`;
  const also = companionOf === undefined ? '' : ` (also read with "${companionOf}")`;
  return `"${layout.name}"${also}: sheet /${layout.sheet.namePattern}/i, header in rows 1-${layout.header.searchRows}, ${axis}`;
}
