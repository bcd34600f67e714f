import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import type { CommandContext } from '../../src/commands/context.js';
import { extractCommand } from '../../src/commands/extract.js';
import { transformCommand } from '../../src/commands/transform.js';
import { envPrefix } from '../../src/core/source.js';
import { sources } from '../../src/sources/index.js';

/**
 * What `etl <stage> <source> --help` prints below the options (src/commands/source-command.ts): the stage's notes,
 * the output columns as declared (wrapped at 100, long lists cut), the environment extract reads. In-process, so
 * Stryker sees it; the CLI's help as a whole is held by test/e2e/wording.test.ts.
 */
function helpOf(create: (context: () => Promise<CommandContext>) => Command, source: string): string {
  const stage = create(async () => {
    throw new Error('no command runs here');
  });
  const command = stage.commands.find((c) => c.name() === source)!;
  let out = '';
  command.configureOutput({ writeOut: (text) => (out += text) });
  command.outputHelp();
  return out;
}

const columnText = (c: { name: string; type: string; nullable?: boolean }): string => `${c.name} ${c.type.toUpperCase()}${c.nullable ? '?' : ''}`;

/** The output-columns block: one entry per dataset, its continuation lines indented by four spaces. */
function columnsBlock(help: string): string[] {
  const start = help.indexOf('Output columns (? nullable; `etl datasets` says what each means):\n');
  expect(start).toBeGreaterThan(0);
  const lines = help.slice(start).split('\n').slice(1);
  const end = lines.indexOf('');
  return end === -1 ? lines : lines.slice(0, end);
}

describe('source help: output columns', () => {
  it.each(sources.map((s) => s.name))('transform %s: every dataset, its columns as declared, wrapped at 100 where a column ends', (name) => {
    const source = sources.find((s) => s.name === name)!;
    const lines = columnsBlock(helpOf(transformCommand, name));
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(100);
    // Lines starting with two spaces and a name begin a dataset; four spaces continue it.
    const entries: string[][] = [];
    for (const line of lines) {
      if (/^ {2}\S/.test(line)) entries.push([line]);
      else {
        expect(line).toMatch(/^ {4}\S/);
        entries.at(-1)!.push(line);
      }
    }
    expect(entries.map((e) => e[0]!.split(':')[0]!.trim())).toEqual(source.datasets.map((d) => d.name));
    for (const [i, dataset] of source.datasets.entries()) {
      const entry = entries[i]!;
      // Greedy: a line ends only when the next column (with its ", ", unless it is the last) would not fit in 100.
      for (let l = 0; l + 1 < entry.length; l++) {
        expect(entry[l]!.endsWith(',')).toBe(true);
        const rest = entry[l + 1]!.trimStart();
        const next = rest.includes(', ') ? rest.slice(0, rest.indexOf(', ') + 2) : rest;
        expect(entry[l]!.length + 1 + next.length).toBeGreaterThan(100);
      }
      const text = entry.map((line, l) => (l === 0 ? line : line.slice(4))).join(' ');
      const long = dataset.columns.length > 16;
      const shown = dataset.columns.slice(0, long ? 12 : 16).map(columnText).join(', ');
      expect(text).toBe(`  ${dataset.name}: ${shown}${long ? `, … (${dataset.columns.length - 12} more)` : ''}`);
    }
  });

  it('a dataset of exactly 16 columns or fewer is shown whole; of 17 or more, 12 and the count of the rest', () => {
    const all = sources.flatMap((s) => s.datasets.map((d) => ({ source: s.name, dataset: d })));
    expect(all.some(({ dataset }) => dataset.columns.length > 16)).toBe(true);
    expect(all.some(({ dataset }) => dataset.columns.length <= 16)).toBe(true);
    const climatempo = helpOf(transformCommand, 'climatempo');
    expect(climatempo).toContain(', … (81 more)');
    expect(climatempo).toMatch(/ {2}forecast-hourly: city_id INT64, city_name STRING\?,/);
  });
});

describe('source help: notes and environment by stage', () => {
  it('extract: its own notes and the environment it reads, padded to one column; no output columns', () => {
    const help = helpOf(extractCommand, 'climatempo');
    const climatempo = sources.find((s) => s.name === 'climatempo')!;
    expect(help).toContain(climatempo.help.extract.trim());
    expect(help).not.toContain(climatempo.help.transform.trim());
    expect(help).not.toContain('Output columns');
    expect(help).toContain(
      [
        'Environment (also read from ./.env):',
        `  ${'CLIMATEMPO_TOKEN'.padEnd(26)} ${climatempo.env[0]!.description} (secret: environment or .env only, never a flag)`,
        `  ${`${envPrefix('climatempo')}_BASE_URL`.padEnd(26)} same as --base-url`,
      ].join('\n'),
    );
  });

  it('transform: its own notes and the output columns; no environment (transform never calls a source)', () => {
    const help = helpOf(transformCommand, 'climatempo');
    const climatempo = sources.find((s) => s.name === 'climatempo')!;
    expect(help).toContain(climatempo.help.transform.trim());
    expect(help).not.toContain(climatempo.help.extract.trim());
    expect(help).not.toContain('Environment');
  });

  it('a source with no environment variables and no base URL gets no Environment block', () => {
    const bare = sources.find((s) => s.env.length === 0 && !s.baseUrl);
    if (bare) expect(helpOf(extractCommand, bare.name)).not.toContain('Environment');
    const baseOnly = sources.find((s) => s.env.length === 0 && s.baseUrl)!;
    expect(helpOf(extractCommand, baseOnly.name)).toContain(`Environment (also read from ./.env):\n  ${`${envPrefix(baseOnly.name)}_BASE_URL`.padEnd(26)} same as --base-url\n`);
    // A variable that is not secret carries no note.
    const plain = sources.flatMap((s) => s.env.filter((v) => !v.secret).map((v) => ({ s, v })))[0];
    if (plain) expect(helpOf(extractCommand, plain.s.name)).toContain(`  ${plain.v.name.padEnd(26)} ${plain.v.description}\n`);
  });

  it('each source\'s dataset argument lists its datasets and its default', () => {
    for (const source of sources) {
      const command = transformCommand(async () => {
        throw new Error('no command runs here');
      }).commands.find((c) => c.name() === source.name)!;
      expect(command.registeredArguments.map((a) => [a.name(), a.description])).toEqual([['dataset', `one of: ${source.datasets.map((d) => d.name).join(', ')} (default: ${source.defaultDataset})`]]);
    }
  });
});
