import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/errors.js';
import { loadDatasetFile, parseDataset } from '../../../src/transform/layout/dataset-file.js';
import { onsDatasets } from '../../../src/transform/datasets/index.js';
import { weeklyDeaths } from '../../../src/transform/datasets/weekly-deaths.js';
import { monthlyAreas, monthlySheets } from '../../fixtures/ons/monthly-workbook.js';
import { weeklyFiguresSheets } from '../../fixtures/ons/weekly-workbook.js';
import { readRows } from '../../helpers/workbook-rows.js';
import { writeWorkbook } from '../../helpers/workbook-writer.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-dataset-file-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const asJson = (value: unknown): Record<string, any> => JSON.parse(JSON.stringify(value));

describe('dataset declarations are data', () => {
  it.each(onsDatasets.map((d) => [d.name, d] as const))('built-in %s survives a JSON round trip through the checks', (_, dataset) => {
    expect(parseDataset(asJson(dataset), 'built-in')).toEqual(asJson(dataset));
  });

  it('a declaration file reads a workbook exactly as the built-in does', async () => {
    const declaration = path.join(dir, 'weekly.json');
    await writeFile(declaration, JSON.stringify({ ...weeklyDeaths, name: 'my-weekly' }, null, 2));
    const workbook = path.join(dir, 'weekly-2018.xls');
    await writeWorkbook(workbook, weeklyFiguresSheets({ year: 2018 }));
    const fromFile = await loadDatasetFile(declaration);
    expect(fromFile.name).toBe('my-weekly');
    expect(await readRows({ file: workbook }, fromFile)).toEqual(await readRows({ file: workbook }, weeklyDeaths));
  });
});

describe('the example declaration in README.md', () => {
  it('is valid and reads a workbook of its shape', async () => {
    const docs = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    const example = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(docs)![1]!);
    const dataset = parseDataset(example, 'README.md');
    const workbook = path.join(dir, 'births.xlsx');
    await writeWorkbook(workbook, monthlySheets({ year: 2021, sheetName: 'Table 1' }));
    const rows = await readRows({ file: workbook }, dataset);
    expect(rows).toHaveLength(monthlyAreas(2021).length * 12);
    expect(rows[0]).toEqual({ edition: 2021, month: new Date(Date.UTC(2021, 0, 1)), area_code: 'K04000001, J99000001', area_name: 'ENGLAND, WALES AND ELSEWHERE', births: monthlyAreas(2021)[0]!.deaths[0], source_file: 'births.xlsx' });
  });
});

describe('a bad declaration fails with a ConfigError naming the field', () => {
  const broken = (change: (d: Record<string, any>) => void): Record<string, any> => {
    const dataset = asJson(weeklyDeaths);
    change(dataset);
    return dataset;
  };
  const cases: Array<{ name: string; dataset: unknown; error: string }> = [
    { name: 'not an object', dataset: [], error: 'd.json: the declaration: expected an object, got []' },
    { name: 'a misspelt field', dataset: broken((d) => (d.layouts[0].sheet.namePatern = 'x')), error: 'd.json: layouts[0].sheet.namePatern: unknown field (expected one of: namePattern)' },
    { name: 'a missing field', dataset: broken((d) => delete d.layouts[1].header.searchRows), error: 'd.json: layouts[1].header.searchRows: expected a whole number >= 1, got nothing' },
    { name: 'an unknown parser', dataset: broken((d) => (d.layouts[1].periods[0].parse = 'weeknumber')), error: 'd.json: layouts[1].periods[0].parse: expected one of "month-label", "week-number", "date", got "weeknumber"' },
    { name: 'an invalid regex', dataset: broken((d) => (d.layouts[0].stopAt = '(Footnotes')), error: 'd.json: layouts[0].stopAt: not a valid regular expression (Invalid regular expression: /(Footnotes/i: Unterminated group)' },
    { name: 'an unknown release rule', dataset: broken((d) => (d.releases = 'newest')), error: 'd.json: releases: expected one of "newest-file", "newest-per-period", got "newest"' },
    { name: 'a name that is not a safe file name', dataset: broken((d) => (d.name = '../weekly')), error: 'd.json: name: "../weekly" is not lower-case letters, digits and dashes (it names folders and files)' },
    { name: 'a field that is not a column', dataset: broken((d) => (d.layouts[0].headings.field = 'heading')), error: 'd.json: layouts[0]: fills "heading", which is not in columns' },
    { name: 'a non-nullable column left empty', dataset: { ...asJson(onsDatasets[0]), rowRules: { split: asJson(onsDatasets[0]).rowRules.split } }, error: 'd.json: layouts[0]: does not fill non-nullable column "geo_level" on every row' },
    { name: 'headings that name a label field no id fills', dataset: broken((d) => (d.layouts[0].headings.labelField = 'measure')), error: 'd.json: layouts[0].headings.labelField: "measure" is not one of the ids\' fields (label, area_code)' },
    { name: 'a lookup in a vocabulary not declared', dataset: broken((d) => (d.rowRules.labels.rules[11].lookup.age_band.vocabulary = 'ages')), error: 'd.json: rowRules.labels.rules[11].lookup.age_band.vocabulary: "ages" is not one of labels.vocabularies' },
    { name: 'a lookup with an unknown fallback', dataset: broken((d) => (d.rowRules.labels.rules[11].lookup.age_band.otherwise = 'null')), error: 'd.json: rowRules.labels.rules[11].lookup.age_band.otherwise: expected one of "printed", got "null"' },
    { name: 'a drop rule with no reason to report', dataset: broken((d) => (d.rowRules.labels.rules[0].drop = '')), error: 'd.json: rowRules.labels.rules[0].drop: expected a non-empty string, got ""' },
    { name: 'a derived value outside its vocabulary', dataset: { ...asJson(onsDatasets[0]), rowRules: { classify: [{ ...asJson(onsDatasets[0]).rowRules.classify[0], otherwise: 'district' }] } }, error: 'd.json: rowRules.classify[0].otherwise: expected one of "total_incl_non_residents", "total", "country", "region", "county", "local_authority", "non_resident", got "district"' },
    { name: 'a first period row that is not the header row', dataset: broken((d) => (d.layouts[0].periods[0].offset = 1)), error: 'd.json: layouts[0].periods[0].offset: must be 0: the first period row is the header row' },
  ];
  it.each(cases)('$name', ({ dataset, error }) => {
    expect(() => parseDataset(dataset, 'd.json')).toThrow(ConfigError);
    expect(() => parseDataset(dataset, 'd.json')).toThrow(error);
  });

  it('a file that is missing or not JSON', async () => {
    await expect(loadDatasetFile(path.join(dir, 'missing.json'))).rejects.toThrow(/--dataset-file .*missing\.json: cannot read it/);
    const notJson = path.join(dir, 'not.json');
    await writeFile(notJson, '{ name: weekly }');
    await expect(loadDatasetFile(notJson)).rejects.toThrow(/not\.json: not valid JSON/);
  });
});
