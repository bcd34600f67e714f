import { readFile } from 'node:fs/promises';
import { ConfigError, errorMessage } from '../../core/errors.js';
import type { Column, ColumnType } from '../../core/table.js';
import { PERIOD_PARSERS, RELEASE_POLICIES, type HeadingRules, type RowRules, type VocabularyEntry, type PeriodsAcrossLayout, type PeriodsDownLayout, type WorkbookDataset, type WorkbookLayout } from './dataset.js';

/** Every column type, so a declaration file can be checked against the union at run time. */
const COLUMN_TYPES: Record<ColumnType, true> = { string: true, int32: true, int64: true, double: true, boolean: true, date: true, timestamp: true };
/** Filled by the engine on every row. */
const ENGINE_FIELDS = ['edition', 'source_file'];

/** Reads a dataset declaration from a JSON file (same shape as the built-ins in datasets/), checked field by field. */
export async function loadDatasetFile(file: string): Promise<WorkbookDataset> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`--dataset-file ${file}: cannot read it (${errorMessage(error)})`, { hint: 'check the path' });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${file}: not valid JSON (${errorMessage(error)})`, { hint: 'a declaration is one JSON object; see "Declaring a dataset" in README.md for an example' });
  }
  return parseDataset(json, file);
}

/** Checks a declaration and returns it typed; a ConfigError names the first bad field by its path, e.g. `layouts[0].sheet.namePattern`. */
export function parseDataset(value: unknown, source: string): WorkbookDataset {
  const check = new Checker(source);
  const root = check.object(value, '', ['name', 'version', 'title', 'pageUrl', 'releases', 'layouts', 'columns', 'rowRules']);
  const dataset: WorkbookDataset = {
    name: check.matching(root.name, 'name', /^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes (it names folders and files)'),
    ...(root.version === undefined ? {} : { version: check.count(root.version, 'version', 1) }),
    title: check.text(root.title, 'title'),
    pageUrl: check.matching(root.pageUrl, 'pageUrl', /^https?:\/\/\S+$/, 'an http(s) URL'),
    releases: check.oneOf(root.releases, 'releases', RELEASE_POLICIES),
    layouts: check.list(root.layouts, 'layouts', (layout, path) => parseLayout(check, layout, path)),
    columns: check.list(root.columns, 'columns', (column, path) => parseColumn(check, column, path)),
    ...(root.rowRules === undefined ? {} : { rowRules: parseRowRules(check, root.rowRules, 'rowRules') }),
  };
  const filled = dataset.layouts.flatMap((layout, i) => checkFieldsAgainstColumns(check, layout, `layouts[${i}]`, dataset.columns, dataset.rowRules));
  dataset.columns.forEach((column, i) => {
    if (!filled.includes(column.name)) check.fail(`columns[${i}]`, `no layout fills "${column.name}"`);
  });
  return dataset;
}

function parseColumn(check: Checker, value: unknown, path: string): Column {
  const column = check.object(value, path, ['name', 'type', 'nullable', 'description']);
  return {
    name: check.text(column.name, `${path}.name`),
    type: check.oneOf(column.type, `${path}.type`, Object.keys(COLUMN_TYPES) as ColumnType[]),
    nullable: check.flag(column.nullable, `${path}.nullable`),
    ...(column.description === undefined ? {} : { description: check.text(column.description, `${path}.description`) }),
  };
}

function parseRowRules(check: Checker, value: unknown, path: string): RowRules {
  const rules = check.object(value, path, ['split', 'labels', 'classify', 'values', 'unique']);
  const fields = (v: unknown, p: string): string[] => check.list(v, p, (f, fp) => check.text(f, fp));
  const patterns = (v: unknown, p: string): Record<string, string> => {
    const object = check.object(v, p);
    return Object.fromEntries(Object.keys(object).map((field) => [field, check.regex(object[field], `${p}.${field}`)]));
  };
  const out: RowRules = {};
  if (rules.split !== undefined) {
    out.split = check.list(rules.split, `${path}.split`, (v, p) => {
      const split = check.object(v, p, ['field', 'separator', 'rest']);
      return { field: check.text(split.field, `${p}.field`), separator: check.regex(split.separator, `${p}.separator`), rest: check.text(split.rest, `${p}.rest`) };
    });
  }
  if (rules.labels !== undefined) {
    const p = `${path}.labels`;
    const labels = check.object(rules.labels, p, ['printed', 'from', 'required', 'canonical', 'rules', 'vocabularies']);
    const vocabularies = check.object(labels.vocabularies, `${p}.vocabularies`);
    out.labels = {
      printed: check.text(labels.printed, `${p}.printed`),
      from: fields(labels.from, `${p}.from`),
      required: check.text(labels.required, `${p}.required`),
      canonical: fields(labels.canonical, `${p}.canonical`),
      rules: check.list(labels.rules, `${p}.rules`, (v, rp) => {
        const rule = check.object(v, rp, ['match', 'set', 'lookup', 'drop']);
        const lookup = rule.lookup === undefined ? undefined : check.object(rule.lookup, `${rp}.lookup`);
        return {
          match: patterns(rule.match, `${rp}.match`),
          ...(rule.set === undefined ? {} : { set: check.textsOrNull(rule.set, `${rp}.set`) }),
          ...(rule.drop === undefined ? {} : { drop: check.text(rule.drop, `${rp}.drop`) }),
          ...(lookup === undefined
            ? {}
            : {
                lookup: Object.fromEntries(
                  Object.keys(lookup).map((field) => {
                    const entry = check.object(lookup[field], `${rp}.lookup.${field}`, ['from', 'vocabulary', 'otherwise']);
                    const vocabulary = check.text(entry.vocabulary, `${rp}.lookup.${field}.vocabulary`);
                    if (!(vocabulary in vocabularies)) check.fail(`${rp}.lookup.${field}.vocabulary`, `"${vocabulary}" is not one of labels.vocabularies`);
                    const otherwise = entry.otherwise === undefined ? {} : { otherwise: check.oneOf(entry.otherwise, `${rp}.lookup.${field}.otherwise`, ['printed'] as const) };
                    return [field, { from: check.text(entry.from, `${rp}.lookup.${field}.from`), vocabulary, ...otherwise }];
                  }),
                ),
              }),
        };
      }),
      vocabularies: Object.fromEntries(
        Object.keys(vocabularies).map((name) => [
          name,
          check.list(vocabularies[name], `${p}.vocabularies.${name}`, (v, vp): VocabularyEntry => {
            const entry = check.object(v, vp, ['value', 'printed', 'set']);
            return {
              value: entry.value === null ? null : check.text(entry.value, `${vp}.value`),
              printed: check.list(entry.printed, `${vp}.printed`, (t, tp) => check.text(t, tp), { allowEmpty: true }),
              ...(entry.set === undefined ? {} : { set: check.texts(entry.set, `${vp}.set`) }),
            };
          }),
        ]),
      ),
    };
  }
  if (rules.classify !== undefined) {
    out.classify = check.list(rules.classify, `${path}.classify`, (v, p) => {
      const rule = check.object(v, p, ['field', 'values', 'when', 'otherwise', 'repeated']);
      const values = fields(rule.values, `${p}.values`);
      const level = (l: unknown, lp: string): string => check.oneOf(l, lp, values);
      const repeated = rule.repeated === undefined ? undefined : check.object(rule.repeated, `${p}.repeated`, ['key', 'from', 'to']);
      return {
        field: check.text(rule.field, `${p}.field`),
        values,
        when: check.list(rule.when, `${p}.when`, (w, wp) => {
          const when = check.object(w, wp, ['value', 'match']);
          return { value: level(when.value, `${wp}.value`), match: patterns(when.match, `${wp}.match`) };
        }),
        otherwise: level(rule.otherwise, `${p}.otherwise`),
        ...(repeated === undefined ? {} : { repeated: { key: fields(repeated.key, `${p}.repeated.key`), from: level(repeated.from, `${p}.repeated.from`), to: level(repeated.to, `${p}.repeated.to`) } }),
      };
    });
  }
  if (rules.values !== undefined) {
    const p = `${path}.values`;
    const routing = check.object(rules.values, p, ['from', 'measure', 'averages', 'count', 'average']);
    out.values = {
      from: check.text(routing.from, `${p}.from`),
      measure: check.text(routing.measure, `${p}.measure`),
      averages: check.list(routing.averages, `${p}.averages`, (t, tp) => check.text(t, tp), { allowEmpty: true }),
      count: check.text(routing.count, `${p}.count`),
      average: check.text(routing.average, `${p}.average`),
    };
  }
  if (rules.unique !== undefined) out.unique = fields(rules.unique, `${path}.unique`);
  return out;
}

function parseLayout(check: Checker, value: unknown, path: string): WorkbookLayout {
  const axis = check.oneOf(check.object(value, path).periodAxis, `${path}.periodAxis`, ['columns', 'rows'] as const);
  const shared = ['name', 'periodAxis', 'sheet', 'header', 'periods', 'value', 'stopAt', 'set', 'companions'];
  const layout = check.object(value, path, [...shared, ...(axis === 'columns' ? ['ids', 'headings'] : ['values', 'blocks'])]);
  const sheet = check.object(layout.sheet, `${path}.sheet`, ['namePattern']);
  const valueRule = check.object(layout.value, `${path}.value`, ['field', 'markers']);
  const rules = {
    name: check.text(layout.name, `${path}.name`),
    sheet: { namePattern: check.regex(sheet.namePattern, `${path}.sheet.namePattern`) },
    value: { field: check.text(valueRule.field, `${path}.value.field`), markers: check.list(valueRule.markers, `${path}.value.markers`, (m, p) => check.text(m, p), { allowEmpty: true }) },
    stopAt: check.regex(layout.stopAt, `${path}.stopAt`),
    ...(layout.set === undefined ? {} : { set: check.texts(layout.set, `${path}.set`) }),
    ...(layout.companions === undefined ? {} : { companions: check.list(layout.companions, `${path}.companions`, (c, p) => parseLayout(check, c, p)) }),
  };
  return axis === 'columns' ? { ...rules, ...parseAcross(check, layout, path) } : { ...rules, ...parseDown(check, layout, path) };
}

function parseAcross(check: Checker, layout: Record<string, unknown>, path: string): Pick<PeriodsAcrossLayout, 'periodAxis' | 'header' | 'periods' | 'ids' | 'headings'> {
  const header = check.object(layout.header, `${path}.header`, ['searchRows', 'minPeriods']);
  const periods = check.list(layout.periods, `${path}.periods`, (value, p) => {
    const period = check.object(value, p, ['field', 'parse', 'offset', 'label', 'mustBeInEditionYear', 'placeholders']);
    return {
      field: check.text(period.field, `${p}.field`),
      parse: check.oneOf(period.parse, `${p}.parse`, PERIOD_PARSERS),
      offset: check.count(period.offset, `${p}.offset`, 0),
      ...(period.label === undefined ? {} : { label: check.regex(period.label, `${p}.label`) }),
      ...(period.mustBeInEditionYear === undefined ? {} : { mustBeInEditionYear: check.flag(period.mustBeInEditionYear, `${p}.mustBeInEditionYear`) }),
      ...(period.placeholders === undefined ? {} : { placeholders: check.oneOf(period.placeholders, `${p}.placeholders`, ['trailing'] as const) }),
    };
  });
  if (periods[0]!.offset !== 0) check.fail(`${path}.periods[0].offset`, 'must be 0: the first period row is the header row');
  const ids = check.list(layout.ids, `${path}.ids`, (value, p) => {
    const id = check.object(value, p, ['field', 'pattern', 'optional', 'clean', 'depthField']);
    return {
      field: check.text(id.field, `${p}.field`),
      pattern: check.regex(id.pattern, `${p}.pattern`),
      optional: check.flag(id.optional, `${p}.optional`),
      clean: check.flag(id.clean, `${p}.clean`),
      ...(id.depthField === undefined ? {} : { depthField: check.text(id.depthField, `${p}.depthField`) }),
    };
  });
  return {
    periodAxis: 'columns',
    header: { searchRows: check.count(header.searchRows, `${path}.header.searchRows`, 1), minPeriods: check.count(header.minPeriods, `${path}.header.minPeriods`, 1) },
    periods,
    ids,
    ...(layout.headings === undefined ? {} : { headings: parseHeadings(check, layout.headings, `${path}.headings`, ids) }),
  };
}

function parseHeadings(check: Checker, value: unknown, path: string, ids: PeriodsAcrossLayout['ids']): HeadingRules {
  const headings = check.object(value, path, ['field', 'labelField', 'ignore', 'continuation', 'areas']);
  const labelField = check.text(headings.labelField, `${path}.labelField`);
  if (!ids.some((id) => id.field === labelField)) check.fail(`${path}.labelField`, `"${labelField}" is not one of the ids' fields (${ids.map((id) => id.field).join(', ')})`);
  const areas = headings.areas === undefined ? undefined : check.object(headings.areas, `${path}.areas`, ['heading', 'field']);
  return {
    field: check.text(headings.field, `${path}.field`),
    labelField,
    ...(headings.ignore === undefined ? {} : { ignore: check.regex(headings.ignore, `${path}.ignore`) }),
    ...(headings.continuation === undefined ? {} : { continuation: check.regex(headings.continuation, `${path}.continuation`) }),
    ...(areas === undefined ? {} : { areas: { heading: check.regex(areas.heading, `${path}.areas.heading`), field: check.text(areas.field, `${path}.areas.field`) } }),
  };
}

function parseDown(check: Checker, layout: Record<string, unknown>, path: string): Pick<PeriodsDownLayout, 'periodAxis' | 'header' | 'periods' | 'values' | 'blocks'> {
  const header = check.object(layout.header, `${path}.header`, ['searchRows', 'requires']);
  const blocks = layout.blocks === undefined ? undefined : check.object(layout.blocks, `${path}.blocks`, ['title', 'field']);
  return {
    periodAxis: 'rows',
    header: {
      searchRows: check.count(header.searchRows, `${path}.header.searchRows`, 1),
      ...(header.requires === undefined ? {} : { requires: check.list(header.requires, `${path}.header.requires`, (r, p) => check.regex(r, p)) }),
    },
    ...(blocks === undefined ? {} : { blocks: { title: check.regex(blocks.title, `${path}.blocks.title`), field: check.text(blocks.field, `${path}.blocks.field`) } }),
    periods: check.list(layout.periods, `${path}.periods`, (value, p) => {
      const period = check.object(value, p, ['field', 'header', 'parse']);
      return { field: check.text(period.field, `${p}.field`), header: check.regex(period.header, `${p}.header`), parse: check.oneOf(period.parse, `${p}.parse`, PERIOD_PARSERS) };
    }),
    values: check.list(layout.values, `${path}.values`, (value, p) => {
      const column = check.object(value, p, ['header', 'optional', 'set']);
      return { header: check.regex(column.header, `${p}.header`), optional: check.flag(column.optional, `${p}.optional`), set: check.texts(column.set, `${p}.set`) };
    }),
  };
}

/** Every field a layout fills must be a column, and it must fill every non-nullable column on every row. Returns the fields it and its companions fill. */
function checkFieldsAgainstColumns(check: Checker, layout: WorkbookLayout, path: string, columns: readonly Column[], rules: RowRules | undefined): string[] {
  const always = new Set([...ENGINE_FIELDS, layout.value.field, ...layout.periods.map((p) => p.field), ...Object.keys(layout.set ?? {})]);
  const sometimes = new Set<string>();
  // Fields the row rules read and do not write out.
  const consumed = new Set([...(rules?.labels?.from ?? []), ...(rules?.values ? [rules.values.from] : [])]);
  if (layout.periodAxis === 'columns') {
    for (const id of layout.ids) {
      const filled = id.optional ? sometimes : always;
      filled.add(id.field);
      // The depth is set wherever the id is: a column of its name is filled as the id is; without one, rules read it.
      if (id.depthField !== undefined) {
        filled.add(id.depthField);
        consumed.add(id.depthField);
      }
    }
    if (layout.headings) sometimes.add(layout.headings.field);
    if (layout.headings?.areas) sometimes.add(layout.headings.areas.field);
  } else {
    const sets = layout.values.map((value) => new Set(Object.keys(value.set)));
    for (const field of new Set(sets.flatMap((set) => [...set]))) (sets.every((set) => set.has(field)) ? always : sometimes).add(field);
    if (layout.blocks) sometimes.add(layout.blocks.field);
  }
  for (const split of rules?.split ?? []) sometimes.add(split.rest);
  for (const classify of rules?.classify ?? []) always.add(classify.field);
  if (rules?.labels) {
    always.add(rules.labels.printed);
    for (const field of rules.labels.canonical) sometimes.add(field);
  }
  if (rules?.values) sometimes.add(rules.values.count).add(rules.values.average);
  const names = new Set(columns.map((column) => column.name));
  for (const field of [...always, ...sometimes]) {
    if (!names.has(field) && !ENGINE_FIELDS.includes(field) && !consumed.has(field)) check.fail(path, `fills "${field}", which is not in columns (${[...names].join(', ')})`);
  }
  // A companion's rows are the dataset's rows too: a column only a companion fills is filled.
  const companionFields = (layout.companions ?? []).flatMap((companion, i) => checkFieldsAgainstColumns(check, companion, `${path}.companions[${i}]`, columns, rules));
  for (const column of columns) {
    if (!column.nullable && !always.has(column.name)) check.fail(path, `does not fill non-nullable column "${column.name}" on every row`);
  }
  return [...always, ...sometimes, ...companionFields];
}

/** Small typed checks that fail with the field's path. */
class Checker {
  constructor(private readonly source: string) {}

  fail(path: string, problem: string): never {
    throw new ConfigError(`${this.source}: ${path || 'the declaration'}: ${problem}`, { hint: 'fix the dataset declaration; `etl datasets` and README.md ("Declaring a dataset") show working ones' });
  }

  object(value: unknown, path: string, known?: readonly string[]): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(path, `expected an object, got ${describe(value)}`);
    const object = value as Record<string, unknown>;
    const unknown = known && Object.keys(object).find((key) => !known.includes(key));
    if (unknown) this.fail(`${path ? `${path}.` : ''}${unknown}`, `unknown field (expected one of: ${known.join(', ')})`);
    return object;
  }

  text(value: unknown, path: string): string {
    if (typeof value !== 'string' || value.trim() === '') this.fail(path, `expected a non-empty string, got ${describe(value)}`);
    return value;
  }

  matching(value: unknown, path: string, pattern: RegExp, expected: string): string {
    const text = this.text(value, path);
    if (!pattern.test(text)) this.fail(path, `"${text}" is not ${expected}`);
    return text;
  }

  /** A regex as a string (`{edition}` in it is read literally here and replaced by the year when used). */
  regex(value: unknown, path: string): string {
    const source = this.text(value, path);
    try {
      new RegExp(source, 'i');
    } catch (error) {
      this.fail(path, `not a valid regular expression (${errorMessage(error)})`);
    }
    return source;
  }

  flag(value: unknown, path: string): boolean {
    if (typeof value !== 'boolean') this.fail(path, `expected true or false, got ${describe(value)}`);
    return value;
  }

  count(value: unknown, path: string, min: number): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) this.fail(path, `expected a whole number >= ${min}, got ${describe(value)}`);
    return value;
  }

  oneOf<T extends string>(value: unknown, path: string, options: readonly T[]): T {
    if (!options.includes(value as T)) this.fail(path, `expected one of ${options.map((o) => `"${o}"`).join(', ')}, got ${describe(value)}`);
    return value as T;
  }

  list<T>(value: unknown, path: string, item: (value: unknown, path: string) => T, { allowEmpty = false } = {}): T[] {
    if (!Array.isArray(value)) this.fail(path, `expected a list, got ${describe(value)}`);
    if (value.length === 0 && !allowEmpty) this.fail(path, 'expected at least one entry');
    return value.map((entry, i) => item(entry, `${path}[${i}]`));
  }

  textsOrNull(value: unknown, path: string): Record<string, string | null> {
    const object = this.object(value, path);
    return Object.fromEntries(Object.entries(object).map(([key, text]) => [key, text === null ? null : this.text(text, `${path}.${key}`)]));
  }

  texts(value: unknown, path: string): Record<string, string> {
    const object = this.object(value, path);
    return Object.fromEntries(Object.entries(object).map(([key, text]) => [key, this.text(text, `${path}.${key}`)]));
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  return JSON.stringify(value)?.slice(0, 40) ?? String(value);
}
