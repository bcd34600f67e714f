import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/errors.js';
import { parseDataset } from '../../../src/transform/layout/dataset-file.js';

/** A declaration using every optional rule once: an across layout with a down companion, every row rule. */
function full(): Record<string, any> {
  return {
    name: 'my-data-2',
    version: 2,
    title: 'My data',
    pageUrl: 'http://example.org/x',
    releases: 'newest-per-period',
    layouts: [
      {
        name: 'across',
        periodAxis: 'columns',
        sheet: { namePattern: '^table' },
        header: { searchRows: 9, minPeriods: 1 },
        periods: [
          { field: 'week', parse: 'week-number', offset: 0, label: '^week', mustBeInEditionYear: false },
          { field: 'week_ended', parse: 'date', offset: 2, placeholders: 'trailing' },
        ],
        ids: [
          { field: 'code', pattern: '^[A-Z]', optional: true, clean: false },
          { field: 'label', pattern: '.', optional: false, clean: true, depthField: 'depth' },
        ],
        headings: { field: 'section', labelField: 'label', ignore: '^see', continuation: '^and', areas: { heading: '^region', field: 'area' } },
        value: { field: 'figure', markers: [] },
        stopAt: '^notes',
        set: { source: 'sheet', measure: 'm' },
        companions: [
          {
            name: 'down',
            periodAxis: 'rows',
            sheet: { namePattern: '^other' },
            header: { searchRows: 3, requires: ['^total'] },
            blocks: { title: '^table', field: 'block' },
            periods: [
              { field: 'week', header: '^week$', parse: 'week-number' },
              { field: 'week_ended', header: '^week ended', parse: 'date' },
            ],
            values: [{ header: '^total', optional: false, set: { measure: 'total', label: 'x', source: 'y', section: 'z', code: 'c', sex: 's', average: 'a', area: 'r' } }],
            value: { field: 'figure', markers: [':'] },
            stopAt: '^notes',
          },
        ],
      },
    ],
    columns: [
      { name: 'week', type: 'int32', nullable: false, description: 'Week' },
      { name: 'week_ended', type: 'date', nullable: false },
      { name: 'code', type: 'string', nullable: true },
      { name: 'code_rest', type: 'string', nullable: true },
      { name: 'section', type: 'string', nullable: true },
      { name: 'area', type: 'string', nullable: true },
      { name: 'block', type: 'string', nullable: true },
      { name: 'source', type: 'string', nullable: false },
      { name: 'measure', type: 'string', nullable: true },
      { name: 'printed', type: 'string', nullable: false },
      { name: 'sex', type: 'string', nullable: true },
      { name: 'level', type: 'string', nullable: false },
      { name: 'count', type: 'int64', nullable: true },
      { name: 'average', type: 'double', nullable: true },
    ],
    rowRules: {
      split: [{ field: 'code', separator: ',', rest: 'code_rest' }],
      labels: {
        printed: 'printed',
        from: ['section', 'label'],
        required: 'sex',
        canonical: ['sex'],
        rules: [
          { match: { label: '\\(2019\\)' }, drop: 'is another year' },
          { match: { section: '^males' }, set: { sex: 'male' } },
          { match: {}, set: { sex: null }, lookup: { sex: { from: 'label', vocabulary: 'sexes', otherwise: 'printed' } } },
          { match: {}, lookup: { sex: { from: 'label', vocabulary: 'sexes' } } },
        ],
        vocabularies: { sexes: [{ value: 'female', printed: ['Females'], set: { section: 'f' } }, { value: null, printed: [] }] },
      },
      classify: [{ field: 'level', values: ['a', 'b'], when: [{ value: 'a', match: { code: '^k' } }], otherwise: 'b', repeated: { key: ['code'], from: 'a', to: 'b' } }],
      values: { from: 'figure', measure: 'measure', averages: [], count: 'count', average: 'average' },
      unique: ['week', 'code'],
    },
  };
}

const check = (dataset: unknown): unknown => parseDataset(dataset, 'd.json');

/** The message parseDataset gives for the declaration `full()` changed by `change`. */
function refusal(change: (d: Record<string, any>) => void): string {
  const dataset = full();
  change(dataset);
  try {
    check(dataset);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).hint).toBe('fix the dataset declaration; `etl datasets` and README.md ("Declaring a dataset") show working ones');
    return (error as Error).message.replace(/^d\.json: /, '');
  }
  throw new Error('accepted');
}

describe('parseDataset', () => {
  it('takes a declaration with every optional rule as it is', () => {
    expect(check(full())).toEqual(full());
  });

  it('leaves out what the declaration leaves out', () => {
    const dataset = full();
    delete dataset.version;
    delete dataset.rowRules;
    dataset.columns = dataset.columns.filter((column: { name: string }) => !['printed', 'level', 'count', 'average', 'code_rest', 'sex'].includes(column.name));
    dataset.columns.push({ name: 'figure', type: 'int64', nullable: true });
    const layout = dataset.layouts[0];
    delete layout.set;
    delete layout.headings;
    delete layout.periods[0].label;
    delete layout.periods[0].mustBeInEditionYear;
    delete layout.periods[1].placeholders;
    delete layout.ids[1].depthField;
    delete layout.companions[0].blocks;
    delete layout.companions[0].header.requires;
    layout.companions[0].values[0].set = { source: 'y' };
    dataset.columns = dataset.columns.filter((column: { name: string }) => !['section', 'area', 'block'].includes(column.name));
    layout.ids.push({ field: 'depth', pattern: 'x', optional: true, clean: false });
    dataset.columns.push({ name: 'depth', type: 'int32', nullable: true }, { name: 'label', type: 'string', nullable: true });
    layout.set = { source: 'sheet', measure: 'm' };
    expect(check(dataset)).toEqual(dataset);
    expect(Object.keys(check(dataset) as object)).toEqual(['name', 'title', 'pageUrl', 'releases', 'layouts', 'columns']);
  });

  it.each<[string, (d: Record<string, any>) => void, string]>([
    ['null', (d) => Object.keys(d).forEach((k) => delete d[k]), 'name: expected a non-empty string, got nothing'],
    ['an unknown top field', (d) => (d.extra = 1), 'extra: unknown field (expected one of: name, version, title, pageUrl, releases, layouts, columns, rowRules)'],
    ['a version of 0', (d) => (d.version = 0), 'version: expected a whole number >= 1, got 0'],
    ['a fractional version', (d) => (d.version = 1.5), 'version: expected a whole number >= 1, got 1.5'],
    ['a version as text', (d) => (d.version = '2'), 'version: expected a whole number >= 1, got "2"'],
    ['a blank title', (d) => (d.title = '  '), 'title: expected a non-empty string, got "  "'],
    ['a title that is a number', (d) => (d.title = 5), 'title: expected a non-empty string, got 5'],
    ['a name with a capital', (d) => (d.name = 'My'), 'name: "My" is not lower-case letters, digits and dashes (it names folders and files)'],
    ['a name starting with a dash', (d) => (d.name = '-x'), 'name: "-x" is not lower-case letters, digits and dashes (it names folders and files)'],
    ['a name with a trailing space', (d) => (d.name = 'x '), 'name: "x " is not lower-case letters, digits and dashes (it names folders and files)'],
    ['a page that is not http', (d) => (d.pageUrl = 'ftp://x'), 'pageUrl: "ftp://x" is not an http(s) URL'],
    ['a page with a space', (d) => (d.pageUrl = 'https://x y'), 'pageUrl: "https://x y" is not an http(s) URL'],
    ['a page with text before it', (d) => (d.pageUrl = 'see https://x'), 'pageUrl: "see https://x" is not an http(s) URL'],
    ['no layouts', (d) => (d.layouts = []), 'layouts: expected at least one entry'],
    ['layouts as an object', (d) => (d.layouts = {}), 'layouts: expected a list, got {}'],
    ['a layout that is null', (d) => (d.layouts = [null]), 'layouts[0]: expected an object, got null'],
    ['a layout that is a list', (d) => (d.layouts = [[]]), 'layouts[0]: expected an object, got []'],
    ['an unknown axis', (d) => (d.layouts[0].periodAxis = 'diagonal'), 'layouts[0].periodAxis: expected one of "columns", "rows", got "diagonal"'],
    ['a down field on an across layout', (d) => (d.layouts[0].values = []), 'layouts[0].values: unknown field (expected one of: name, periodAxis, sheet, header, periods, value, stopAt, set, companions, ids, headings)'],
    ['an across field on a down layout', (d) => (d.layouts[0].companions[0].ids = []), 'layouts[0].companions[0].ids: unknown field (expected one of: name, periodAxis, sheet, header, periods, value, stopAt, set, companions, values, blocks)'],
    ['a blank marker', (d) => (d.layouts[0].value.markers = ['']), 'layouts[0].value.markers[0]: expected a non-empty string, got ""'],
    ['a set value that is not text', (d) => (d.layouts[0].set = { source: 1 }), 'layouts[0].set.source: expected a non-empty string, got 1'],
    ['a header with an unknown field', (d) => (d.layouts[0].header.rows = 1), 'layouts[0].header.rows: unknown field (expected one of: searchRows, minPeriods)'],
    ['minPeriods 0', (d) => (d.layouts[0].header.minPeriods = 0), 'layouts[0].header.minPeriods: expected a whole number >= 1, got 0'],
    ['a negative offset', (d) => (d.layouts[0].periods[1].offset = -1), 'layouts[0].periods[1].offset: expected a whole number >= 0, got -1'],
    ['a period flag as text', (d) => (d.layouts[0].periods[0].mustBeInEditionYear = 'yes'), 'layouts[0].periods[0].mustBeInEditionYear: expected true or false, got "yes"'],
    ['an unknown placeholder rule', (d) => (d.layouts[0].periods[1].placeholders = 'leading'), 'layouts[0].periods[1].placeholders: expected one of "trailing", got "leading"'],
    ['a bad period label', (d) => (d.layouts[0].periods[0].label = '['), 'layouts[0].periods[0].label: not a valid regular expression (Invalid regular expression: /[/i: Unterminated character class)'],
    ['an id without clean', (d) => delete d.layouts[0].ids[0].clean, 'layouts[0].ids[0].clean: expected true or false, got nothing'],
    ['an id pattern that is not a regex', (d) => (d.layouts[0].ids[0].pattern = '('), 'layouts[0].ids[0].pattern: not a valid regular expression (Invalid regular expression: /(/i: Unterminated group)'],
    ['a blank depth field', (d) => (d.layouts[0].ids[1].depthField = ''), 'layouts[0].ids[1].depthField: expected a non-empty string, got ""'],
    ['an unknown heading rule', (d) => (d.layouts[0].headings.stack = 1), 'layouts[0].headings.stack: unknown field (expected one of: field, labelField, ignore, continuation, areas)'],
    ['a bad heading ignore', (d) => (d.layouts[0].headings.ignore = '*'), 'layouts[0].headings.ignore: not a valid regular expression (Invalid regular expression: /*/i: Nothing to repeat)'],
    ['a bad continuation', (d) => (d.layouts[0].headings.continuation = ')'), 'layouts[0].headings.continuation: not a valid regular expression (Invalid regular expression: /)/i: Unmatched \')\')'],
    ['areas without a field', (d) => delete d.layouts[0].headings.areas.field, 'layouts[0].headings.areas.field: expected a non-empty string, got nothing'],
    ['areas with a bad heading', (d) => (d.layouts[0].headings.areas.heading = '+'), 'layouts[0].headings.areas.heading: not a valid regular expression (Invalid regular expression: /+/i: Nothing to repeat)'],
    ['a bad down requirement', (d) => (d.layouts[0].companions[0].header.requires = ['?']), 'layouts[0].companions[0].header.requires[0]: not a valid regular expression (Invalid regular expression: /?/i: Nothing to repeat)'],
    ['blocks without a title', (d) => delete d.layouts[0].companions[0].blocks.title, 'layouts[0].companions[0].blocks.title: expected a non-empty string, got nothing'],
    ['blocks with an unknown field', (d) => (d.layouts[0].companions[0].blocks.x = 1), 'layouts[0].companions[0].blocks.x: unknown field (expected one of: title, field)'],
    ['a down period with an unknown parser', (d) => (d.layouts[0].companions[0].periods[0].parse = 'month'), 'layouts[0].companions[0].periods[0].parse: expected one of "month-label", "week-number", "date", got "month"'],
    ['a value column with a blank set', (d) => (d.layouts[0].companions[0].values[0].set.measure = ''), 'layouts[0].companions[0].values[0].set.measure: expected a non-empty string, got ""'],
    ['a value column without optional', (d) => delete d.layouts[0].companions[0].values[0].optional, 'layouts[0].companions[0].values[0].optional: expected true or false, got nothing'],
    ['a down layout with no values', (d) => (d.layouts[0].companions[0].values = []), 'layouts[0].companions[0].values: expected at least one entry'],
    ['a column of an unknown type', (d) => (d.columns[0].type = 'integer'), 'columns[0].type: expected one of "string", "int32", "int64", "double", "boolean", "date", "timestamp", got "integer"'],
    ['a column without nullable', (d) => delete d.columns[1].nullable, 'columns[1].nullable: expected true or false, got nothing'],
    ['a blank description', (d) => (d.columns[0].description = ''), 'columns[0].description: expected a non-empty string, got ""'],
    ['a column no layout fills', (d) => d.columns.push({ name: 'extra', type: 'string', nullable: true }), 'columns[14]: no layout fills "extra"'],
    ['a long value, cut in the message', (d) => (d.title = { text: 'a'.repeat(60) }), `title: expected a non-empty string, got {"text":"${'a'.repeat(31)}`],
    ['row rules with an unknown rule', (d) => (d.rowRules.sort = []), 'rowRules.sort: unknown field (expected one of: split, labels, classify, values, unique)'],
    ['a split with a bad separator', (d) => (d.rowRules.split[0].separator = '['), 'rowRules.split[0].separator: not a valid regular expression (Invalid regular expression: /[/i: Unterminated character class)'],
    ['a split without rest', (d) => delete d.rowRules.split[0].rest, 'rowRules.split[0].rest: expected a non-empty string, got nothing'],
    ['labels without vocabularies', (d) => delete d.rowRules.labels.vocabularies, 'rowRules.labels.vocabularies: expected an object, got nothing'],
    ['labels from nothing', (d) => (d.rowRules.labels.from = []), 'rowRules.labels.from: expected at least one entry'],
    ['labels with an unknown field', (d) => (d.rowRules.labels.order = 1), 'rowRules.labels.order: unknown field (expected one of: printed, from, required, canonical, rules, vocabularies)'],
    ['a label rule with a bad pattern', (d) => (d.rowRules.labels.rules[1].match.section = '('), 'rowRules.labels.rules[1].match.section: not a valid regular expression (Invalid regular expression: /(/i: Unterminated group)'],
    ['a label rule setting a number', (d) => (d.rowRules.labels.rules[1].set.sex = 1), 'rowRules.labels.rules[1].set.sex: expected a non-empty string, got 1'],
    ['a label rule with an unknown field', (d) => (d.rowRules.labels.rules[1].keep = true), 'rowRules.labels.rules[1].keep: unknown field (expected one of: match, set, lookup, drop)'],
    ['a lookup with an unknown field', (d) => (d.rowRules.labels.rules[3].lookup.sex.default = 'x'), 'rowRules.labels.rules[3].lookup.sex.default: unknown field (expected one of: from, vocabulary, otherwise)'],
    ['a lookup from nothing', (d) => delete d.rowRules.labels.rules[3].lookup.sex.from, 'rowRules.labels.rules[3].lookup.sex.from: expected a non-empty string, got nothing'],
    ['a lookup that is not an object', (d) => (d.rowRules.labels.rules[3].lookup = 'sexes'), 'rowRules.labels.rules[3].lookup: expected an object, got "sexes"'],
    ['a vocabulary entry with a number', (d) => (d.rowRules.labels.vocabularies.sexes[0].value = 1), 'rowRules.labels.vocabularies.sexes[0].value: expected a non-empty string, got 1'],
    ['a vocabulary entry without printed', (d) => delete d.rowRules.labels.vocabularies.sexes[0].printed, 'rowRules.labels.vocabularies.sexes[0].printed: expected a list, got nothing'],
    ['a vocabulary set with null', (d) => (d.rowRules.labels.vocabularies.sexes[0].set.section = null), 'rowRules.labels.vocabularies.sexes[0].set.section: expected a non-empty string, got null'],
    ['an empty vocabulary', (d) => (d.rowRules.labels.vocabularies.sexes = []), 'rowRules.labels.vocabularies.sexes: expected at least one entry'],
    ['a classify value not in its values', (d) => (d.rowRules.classify[0].when[0].value = 'c'), 'rowRules.classify[0].when[0].value: expected one of "a", "b", got "c"'],
    ['a classify rule with an unknown field', (d) => (d.rowRules.classify[0].when[0].else = 'a'), 'rowRules.classify[0].when[0].else: unknown field (expected one of: value, match)'],
    ['a repeated rule to a value not declared', (d) => (d.rowRules.classify[0].repeated.to = 'c'), 'rowRules.classify[0].repeated.to: expected one of "a", "b", got "c"'],
    ['a repeated rule from a value not declared', (d) => (d.rowRules.classify[0].repeated.from = 'c'), 'rowRules.classify[0].repeated.from: expected one of "a", "b", got "c"'],
    ['a repeated rule without a key', (d) => (d.rowRules.classify[0].repeated.key = []), 'rowRules.classify[0].repeated.key: expected at least one entry'],
    ['a repeated rule with an unknown field', (d) => (d.rowRules.classify[0].repeated.by = []), 'rowRules.classify[0].repeated.by: unknown field (expected one of: key, from, to)'],
    ['a classify rule with an unknown top field', (d) => (d.rowRules.classify[0].default = 'a'), 'rowRules.classify[0].default: unknown field (expected one of: field, values, when, otherwise, repeated)'],
    ['value routing without averages', (d) => delete d.rowRules.values.averages, 'rowRules.values.averages: expected a list, got nothing'],
    ['value routing with an unknown field', (d) => (d.rowRules.values.sum = 'x'), 'rowRules.values.sum: unknown field (expected one of: from, measure, averages, count, average)'],
    ['value routing without a count column', (d) => delete d.rowRules.values.count, 'rowRules.values.count: expected a non-empty string, got nothing'],
    ['unique over nothing', (d) => (d.rowRules.unique = []), 'rowRules.unique: expected at least one entry'],
    ['a split rest that is not a column', (d) => (d.rowRules.split[0].rest = 'elsewhere'), 'layouts[0]: fills "elsewhere", which is not in columns (week, week_ended, code, code_rest, section, area, block, source, measure, printed, sex, level, count, average)'],
    ['a companion filling a field that is not a column', (d) => (d.layouts[0].companions[0].values[0].set.other = 'x'), 'layouts[0].companions[0]: fills "other", which is not in columns'],
    ['a companion that does not fill a non-nullable column', (d) => (d.layouts[0].companions[0].values[0].set = { measure: 'total' }), 'layouts[0].companions[0]: does not fill non-nullable column "source" on every row'],
    ['an optional id for a non-nullable column', (d) => (d.columns[2].nullable = false), 'layouts[0]: does not fill non-nullable column "code" on every row'],
    ['a canonical field for a non-nullable column', (d) => (d.columns[10].nullable = false), 'layouts[0]: does not fill non-nullable column "sex" on every row'],
    ['a routed average for a non-nullable column', (d) => (d.columns[13].nullable = false), 'layouts[0]: does not fill non-nullable column "average" on every row'],
    ['a heading field for a non-nullable column', (d) => (d.columns[4].nullable = false), 'layouts[0]: does not fill non-nullable column "section" on every row'],
    ['an area field for a non-nullable column', (d) => (d.columns[5].nullable = false), 'layouts[0]: does not fill non-nullable column "area" on every row'],
    ['a block field for a non-nullable column', (d) => (d.columns[6].nullable = false), 'layouts[0].companions[0]: does not fill non-nullable column "block" on every row'],
    ['a printed field that is not a column', (d) => (d.rowRules.labels.printed = 'shown'), 'layouts[0]: fills "shown", which is not in columns'],
    ['a classified field that is not a column', (d) => (d.rowRules.classify[0].field = 'kind'), 'layouts[0]: fills "kind", which is not in columns'],
    ['an id field that is not a column', (d) => (d.layouts[0].ids[0].field = 'gss'), 'layouts[0]: fills "gss", which is not in columns'],
    ['a count column that is not a column', (d) => (d.rowRules.values.count = 'n'), 'layouts[0]: fills "n", which is not in columns'],
  ])('refuses %s', (_, change, message) => {
    expect(refusal(change)).toMatch(new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
  });

  it('the depth field of an id every row has fills a non-nullable column', () => {
    const dataset = full();
    delete dataset.layouts[0].companions;
    dataset.columns = dataset.columns.filter((column: { name: string }) => column.name !== 'block');
    dataset.columns.push({ name: 'depth', type: 'int32', nullable: false });
    expect(check(dataset)).toEqual(dataset);
    dataset.layouts[0].ids[1].optional = true;
    expect(() => check(dataset)).toThrow('does not fill non-nullable column "depth" on every row');
  });

  it('a column only a companion fills is filled (block, here)', () => {
    expect(check(full())).toMatchObject({ columns: expect.arrayContaining([expect.objectContaining({ name: 'block' })]) });
    expect(refusal((d) => delete d.layouts[0].companions[0].blocks)).toBe('columns[6]: no layout fills "block"');
  });

  it('a value field of a column a layout fills on some rows only', () => {
    // A value column set on one of two value columns is filled sometimes; on both, always.
    expect(
      refusal((d) => {
        d.layouts[0].companions[0].values.push({ header: '^x', optional: true, set: { measure: 'x', label: 'x', section: 'z', code: 'c' } });
      }),
    ).toBe('layouts[0].companions[0]: does not fill non-nullable column "source" on every row');
  });

  it('names the declaration itself when the top is wrong, and a function by its text', () => {
    expect(() => parseDataset('x', 'src')).toThrow(/^src: the declaration: expected an object, got "x"$/);
    expect(() => parseDataset(undefined, 'src')).toThrow(/^src: the declaration: expected an object, got nothing$/);
    expect(refusal((d) => (d.title = () => 1))).toBe('title: expected a non-empty string, got () => 1');
  });
});
