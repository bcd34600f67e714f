import { Command } from 'commander';
import type { WorkbookDataset, WorkbookLayout } from '../transform/layout/dataset.js';
import { onsDatasets } from '../transform/datasets/index.js';
import { envPrefix, type AnySource } from '../core/source.js';
import type { Column } from '../core/table.js';
import { sources } from '../sources/index.js';
import type { CommandContext } from './context.js';
import { datasetFileOption } from './options.js';

export function datasetsCommand(context: () => Promise<CommandContext>): Command {
  return new Command('datasets')
    .description('list every source and dataset: output columns, the environment variables each reads, and for workbooks page and layouts')
    .addOption(datasetFileOption())
    .addHelpText('after', `
Examples:
  $ etl datasets                           every source and dataset
  $ etl --json datasets                    the same as JSON
  $ etl datasets --dataset-file my.json    check a declaration file and show it as the engine reads it`)
    .action(async (flags: { datasetFile?: string }) => {
      const ctx = await context();
      if (flags.datasetFile) {
        const { loadDatasetFile } = await import('../transform/layout/dataset-file.js');
        const dataset = await loadDatasetFile(flags.datasetFile);
        ctx.printResult(describeDataset(dataset), { command: 'datasets', source: 'ons', datasets: [dataset] });
        return;
      }
      const others = sources.filter((source) => source.name !== 'ons');
      const text = [...onsDatasets.map(describeDataset), ...others.flatMap(describeSourceDatasets)].join('\n\n');
      ctx.printResult(text, { command: 'datasets', source: 'ons', datasets: onsDatasets, sources: sources.map(sourceJson) });
    });
}

function envVars(source: AnySource): string[] {
  return [...source.env.map((v) => v.name + (v.secret ? ' (secret)' : '')), ...(source.baseUrl ? [`${envPrefix(source.name)}_BASE_URL`] : [])];
}

function describeColumns(columns: readonly Column[]): string {
  return columns.map((c) => `${c.name} ${c.type.toUpperCase()}${c.nullable ? '?' : ''}`).join(', ');
}

function describeSourceDatasets(source: AnySource): string[] {
  return source.datasets.map((dataset) =>
    [`${source.name} ${dataset.name}: ${dataset.title}`, `  env:      ${envVars(source).join(', ') || '(none)'}`, `  columns:  ${describeColumns(dataset.columns)}`].join('\n'),
  );
}

function sourceJson(source: AnySource): Record<string, unknown> {
  return { name: source.name, description: source.description, env: envVars(source), datasets: source.datasets };
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
    `  columns:  ${describeColumns(dataset.columns)}`,
    ...dataset.columns.map((c) => `    ${c.name.padEnd(17)} ${c.description ?? ''}`.trimEnd()),
  ].join('\n');
}

function describeLayout(layout: WorkbookLayout, companionOf?: string): string {
  const periods = layout.periods.map((p) => `${p.field} (${p.parse})`).join(', ');
  const axis = layout.periodAxis === 'columns' ? `periods across columns: ${periods}` : `periods down rows: ${periods}; ${layout.values.length} value columns`;
  const also = companionOf === undefined ? '' : ` (also read with "${companionOf}")`;
  return `"${layout.name}"${also}: sheet /${layout.sheet.namePattern}/i, header in rows 1-${layout.header.searchRows}, ${axis}`;
}
