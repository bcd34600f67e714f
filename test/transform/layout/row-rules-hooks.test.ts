import { describe, expect, it } from 'vitest';
import { DataError } from '../../../src/core/errors.js';
import type { Value } from '../../../src/core/table.js';
import type { LabelRules, RowRules } from '../../../src/transform/layout/dataset.js';
import { LABEL_CELL, createRowRules, createRunReport, printedLabel } from '../../../src/transform/layout/row-rules.js';

type Fields = Record<string, Value>;

/** The row rules over one workbook, with the warnings they give. */
function rulesOf(rules: RowRules | undefined, keepLabelCell = false) {
  const warnings: string[] = [];
  const hooks = createRowRules(rules, createRunReport((message) => warnings.push(message)), keepLabelCell)('f.xlsx, sheet "1"');
  /** One sheet row through `sheetRow`, then one output row per figure through `row`. */
  const read = (fields: Fields, figures: Value[] = [1], edition = 2020): Array<Fields | null> => {
    hooks.sheetRow(fields, edition);
    return figures.map((figure) => hooks.row({ ...fields, figure }));
  };
  return { hooks, read, warnings };
}

describe('createRunReport', () => {
  it('says each key once, whatever the message', () => {
    const said: string[] = [];
    const report = createRunReport((message) => said.push(message));
    report.warn('a', 'first');
    report.warn('a', 'again');
    report.warn('b', 'second');
    expect(said).toEqual(['first', 'second']);
    expect(() => createRunReport().warn('a', 'nowhere')).not.toThrow();
  });
});

describe('no row rules', () => {
  it('rows pass unchanged; the label cell is dropped unless kept', () => {
    const { read } = rulesOf(undefined);
    expect(read({ name: 'A', [LABEL_CELL]: 'A7' })).toEqual([{ name: 'A', figure: 1 }]);
    expect(rulesOf(undefined, true).read({ name: 'A', [LABEL_CELL]: 'A7' })).toEqual([{ name: 'A', [LABEL_CELL]: 'A7', figure: 1 }]);
  });
});

describe('split', () => {
  const rules: RowRules = { split: [{ field: 'code', separator: ',|;', rest: 'extra' }] };
  it.each<[Value, Value, Value]>([
    ['K04000001, J99000001', 'K04000001', 'J99000001'],
    ['A; B ,C', 'A', 'B, C'],
    ['A,', 'A', null],
    [', ,', null, null],
    ['K04000001', 'K04000001', null],
    [12, 12, null],
    [null, null, null],
  ])('%j -> %j and %j', (code, first, rest) => {
    expect(rulesOf(rules).read({ code })).toEqual([{ code: first, extra: rest, figure: 1 }]);
  });
});

describe('labels', () => {
  const labels: LabelRules = {
    printed: 'label',
    from: ['section', 'name'],
    required: 'age',
    canonical: ['sex', 'age', 'code'],
    rules: [
      { match: { name: '\\((?!{edition}\\))\\d{4}\\)' }, drop: 'is a comparison with another year than {edition}' },
      { match: { section: '^males$' }, set: { sex: 'male' } },
      { match: { section: '^females' }, set: { sex: 'female' } },
      { match: {}, set: { sex: 'all' } },
      { match: { name: '^aged' }, lookup: { age: { from: 'name', vocabulary: 'ages' } } },
      { match: { name: '^place' }, lookup: { age: { from: 'name', vocabulary: 'ages', otherwise: 'printed' } } },
      { match: { name: '^all ages$' }, set: { age: null } },
    ],
    vocabularies: {
      ages: [
        { value: '1-14', printed: ['Aged 01-14', 'aged 1 to 14'], set: { code: 'A1', sex: 'ignored: already set' } },
        { value: 'aged 15-44', printed: [] },
        { value: null, printed: ['Place all'] },
      ],
    },
  };

  it('a known label: the first rule to set a field wins, the printed label joins the from fields outer first', () => {
    const { read, warnings } = rulesOf({ labels });
    expect(read({ section: 'Males', name: 'Aged 1–14 [note 3]' })).toEqual([{ label: 'Males / Aged 1–14 [note 3]', sex: 'male', age: '1-14', code: 'A1', figure: 1 }]);
    expect(read({ section: 'Females 2', name: 'aged 1 to 14' })).toEqual([{ label: 'Females 2 / aged 1 to 14', sex: 'female', age: '1-14', code: 'A1', figure: 1 }]);
    // A vocabulary value is also one of its printed forms.
    expect(read({ section: 'Persons', name: 'Aged 15 - 44' })).toEqual([{ label: 'Persons / Aged 15 - 44', sex: 'all', age: 'aged 15-44', code: null, figure: 1 }]);
    expect(warnings).toEqual([]);
  });

  it('a field the sheet printed is never overwritten, and a null from a rule counts as set', () => {
    const { read } = rulesOf({ labels });
    expect(read({ section: 'Males', name: 'Aged 1-14', code: 'X9', sex: 'printed' })).toEqual([{ label: 'Males / Aged 1-14', sex: 'printed', age: '1-14', code: 'X9', figure: 1 }]);
    expect(read({ section: null, name: 'All ages' })).toEqual([{ label: 'All ages', sex: 'all', age: null, code: null, figure: 1 }]);
  });

  it('a label not in the vocabulary is unknown: kept with its canonical fields null, said once with its cell', () => {
    const { read, warnings } = rulesOf({ labels });
    expect(read({ section: 'Males', name: 'Aged 200', [LABEL_CELL]: 'B9' }, [1, 2])).toEqual([
      { label: 'Males / Aged 200', sex: null, age: null, code: null, figure: 1 },
      { label: 'Males / Aged 200', sex: null, age: null, code: null, figure: 2 },
    ]);
    read({ section: 'Males', name: 'Aged 200', [LABEL_CELL]: 'B30' });
    read({ section: 'Males', name: 'Nothing matches' });
    expect(warnings).toEqual([
      'f.xlsx, sheet "1", cell B9: label "Males / Aged 200" is not in the declaration; kept with sex, age, code left null',
      'f.xlsx, sheet "1": label "Males / Nothing matches" is not in the declaration; kept with sex, age, code left null',
    ]);
  });

  it('otherwise printed: the raw text, spaces collapsed, when no entry matches; none when it is blank', () => {
    const { read } = rulesOf({ labels });
    expect(read({ section: 'Males', name: '  Place   elsewhere ' })[0]).toMatchObject({ age: 'Place elsewhere', label: 'Males / Place elsewhere' });
    expect(read({ section: 'Males', name: 'Place all' })[0]).toMatchObject({ age: null, sex: 'male' });
    expect(read({ section: '   ', name: 'Place' })[0]).toMatchObject({ age: 'Place', label: 'Place' });
  });

  it('a drop rule leaves out every row of the label and says so once, with the edition filled in', () => {
    const { read, warnings } = rulesOf({ labels }, true);
    expect(read({ section: 'Males', name: 'Aged 1-14 (2019)', [LABEL_CELL]: 'A5' }, [1, 2])).toEqual([null, null]);
    expect(read({ section: 'Males', name: 'Aged 1-14 (2019)' }, [3])).toEqual([null]);
    // The edition's own year is not dropped; the next sheet row is read again.
    expect(read({ section: 'Males', name: 'Aged 1-14 (2020)', [LABEL_CELL]: 'A6' })).toEqual([{ label: 'Males / Aged 1-14 (2020)', [LABEL_CELL]: 'A6', sex: null, age: null, code: null, figure: 1 }]);
    expect(read({ section: 'Males', name: 'Aged 1-14 (2020)' }, [1], 2021)).toEqual([null]);
    expect(warnings).toEqual([
      'f.xlsx, sheet "1", cell A5: label "Males / Aged 1-14 (2019)" is a comparison with another year than 2020; left out',
      'f.xlsx, sheet "1", cell A6: label "Males / Aged 1-14 (2020)" is not in the declaration; kept with sex, age, code left null',
      'f.xlsx, sheet "1": label "Males / Aged 1-14 (2020)" is a comparison with another year than 2021; left out',
    ]);
  });

  it('keeps a from field that is also the printed or a canonical field', () => {
    const own: LabelRules = { printed: 'name', from: ['section', 'name', 'age'], required: 'age', canonical: ['age'], rules: [{ match: {}, set: { age: 'x' } }], vocabularies: {} };
    expect(rulesOf({ labels: own }).read({ section: 'S', name: 'Aged 5', age: '5' })).toEqual([{ name: 'S / Aged 5 / 5', age: '5', figure: 1 }]);
    expect(rulesOf({ labels: own }).read({ section: 'S', name: 'Aged 5', age: null })).toEqual([{ name: 'S / Aged 5', age: 'x', figure: 1 }]);
  });

  it('printedLabel skips blank and non-text fields', () => {
    expect(printedLabel(labels, { section: 'Males', name: 7 })).toBe('Males');
    expect(printedLabel(labels, { section: ' A \t B ', name: 'C' })).toBe('A B / C');
  });
});

describe('classify', () => {
  const rules: RowRules = {
    classify: [
      {
        field: 'level',
        values: ['total', 'country', 'region', 'other'],
        when: [
          { value: 'total', match: { code: '^k04' } },
          { value: 'country', match: { name: '^(england|wales)$', depth: '^0$' } },
          { value: 'region', match: { name: 'east' } },
        ],
        otherwise: 'other',
        repeated: { key: ['name'], from: 'country', to: 'region' },
      },
    ],
  };

  it('takes the first rule whose every pattern matches the normalised text, else the fallback', () => {
    const { read } = rulesOf(rules);
    expect(read({ code: 'K04000001', name: 'East' })[0]!.level).toBe('total');
    expect(read({ code: null, name: 'ENGLAND 2', depth: 0 })[0]!.level).toBe('country');
    expect(read({ code: null, name: 'England', depth: 1 })[0]!.level).toBe('other');
    expect(read({ code: 'E12000006', name: 'East' })[0]!.level).toBe('region');
    expect(read({ code: 'E06000001', name: 'Hartlepool' })[0]!.level).toBe('other');
    // A field that is not there matches no pattern, not even one that matches an empty text.
    expect(rulesOf({ classify: [{ field: 'level', values: ['any', 'none'], when: [{ value: 'any', match: { code: '' } }], otherwise: 'none' }] }).read({ name: 'x' })[0]!.level).toBe('none');
  });

  it('a repeated key with the `from` value gets the `to` value', () => {
    const { read } = rulesOf(rules);
    expect(read({ name: 'Wales', depth: 0 })[0]!.level).toBe('country');
    expect(read({ name: 'England', depth: 0 })[0]!.level).toBe('country');
    expect(read({ name: 'WALES', depth: 0 })[0]!.level).toBe('region');
    expect(read({ name: 'Wales', depth: 0 })[0]!.level).toBe('region');
  });

  it('a date key counts as its instant', () => {
    const dated: RowRules = { classify: [{ field: 'kind', values: ['first', 'again'], when: [], otherwise: 'first', repeated: { key: ['day'], from: 'first', to: 'again' } }] };
    const { read } = rulesOf(dated);
    expect(read({ day: new Date(Date.UTC(2020, 0, 1)) })[0]!.kind).toBe('first');
    expect(read({ day: new Date(Date.UTC(2020, 0, 2)) })[0]!.kind).toBe('first');
    expect(read({ day: new Date(Date.UTC(2020, 0, 1)) })[0]!.kind).toBe('again');
  });
});

describe('values and unique', () => {
  const values: NonNullable<RowRules['values']> = { from: 'figure', measure: 'measure', averages: ['mean'], count: 'count', average: 'average' };

  it('routes a count and an average to their columns; an unknown measure by whether the figure is whole', () => {
    const { read } = rulesOf({ values });
    expect(read({ measure: 'deaths' }, [5])).toEqual([{ measure: 'deaths', count: 5, average: null }]);
    expect(read({ measure: 'mean' }, [5])).toEqual([{ measure: 'mean', count: null, average: 5 }]);
    expect(read({ measure: null }, [5, 2.5, null])).toEqual([
      { measure: null, count: 5, average: null },
      { measure: null, count: null, average: 2.5 },
      { measure: null, count: null, average: null },
    ]);
  });

  it('a count measure that prints a fraction is a data error naming the row', () => {
    const { read } = rulesOf({ values });
    expect(() => read({ measure: 'deaths', [LABEL_CELL]: 'A9' }, [2.5])).toThrow(DataError);
    expect(() => read({ measure: 'deaths', [LABEL_CELL]: 'A9' }, [2.5])).toThrow('f.xlsx, sheet "1", row of A9: deaths is a count but prints 2.5');
    expect(() => read({ measure: 'deaths' }, [2.5])).toThrow('f.xlsx, sheet "1": deaths is a count but prints 2.5');
    const error = (() => {
      try {
        read({ measure: 'deaths' }, [2.5]);
      } catch (thrown) {
        return thrown as DataError;
      }
    })();
    expect(error?.hint).toBe('list the measure under rowRules.values.averages of the dataset declaration if it is an average');
  });

  it('a figure field that is also the count column stays', () => {
    const { read } = rulesOf({ values: { ...values, from: 'count' } });
    const { hooks } = rulesOf({ values: { ...values, from: 'count' } });
    hooks.sheetRow({ measure: 'deaths' }, 2020);
    expect(hooks.row({ measure: 'deaths', count: 3 })).toEqual({ measure: 'deaths', count: 3, average: null });
    expect(read({ measure: 'mean' }, [])).toEqual([]);
  });

  it('unique: a repeat with the same figure is left out; a different one is kept and said once', () => {
    const { hooks, warnings } = rulesOf({ values, unique: ['area', 'day'], labels: { printed: 'label', from: [], required: 'area', canonical: [], rules: [], vocabularies: {} } });
    const day = new Date(Date.UTC(2020, 0, 3));
    const row = (figure: Value, area = 'A'): Fields | null => {
      hooks.sheetRow({ area, day }, 2020);
      return hooks.row({ area, day, label: `Area ${area}`, measure: 'deaths', figure });
    };
    expect(row(5)).toMatchObject({ count: 5 });
    expect(row(5)).toBeNull();
    expect(row(6)).toMatchObject({ count: 6 });
    expect(row(7)).toMatchObject({ count: 7 });
    expect(row(5, 'B')).toMatchObject({ count: 5 });
    expect(row(6, 'B')).toMatchObject({ count: 6 });
    expect(warnings).toEqual([
      'f.xlsx, sheet "1": Area A prints 6 where another table of the workbook printed 5; both rows kept',
      'f.xlsx, sheet "1": Area B prints 6 where another table of the workbook printed 5; both rows kept',
    ]);
  });

  it('unique: the warning names the printed label, else the key; a row with no measure is never left out', () => {
    const { hooks, warnings } = rulesOf({ unique: ['area'], values: { ...values, measure: 'kind' } });
    const row = (fields: Fields): Fields | null => {
      hooks.sheetRow({}, 2020);
      return hooks.row(fields);
    };
    expect(row({ area: 'A', kind: null, figure: 1 })).not.toBeNull();
    expect(row({ area: 'A', kind: null, figure: 1 })).not.toBeNull();
    expect(row({ area: 'B', kind: 'deaths', figure: 1 })).not.toBeNull();
    expect(row({ area: 'B', kind: 'deaths', figure: 2 })).not.toBeNull();
    expect(warnings).toEqual(['f.xlsx, sheet "1": ["B"] prints 2 where another table of the workbook printed 1; both rows kept']);
    const noRouting = rulesOf({ unique: ['area'] });
    noRouting.hooks.sheetRow({}, 2020);
    expect(noRouting.hooks.row({ area: null, figure: 1 })).not.toBeNull();
    expect(noRouting.hooks.row({ area: null, figure: 2 })).toBeNull();
  });
});
