import type { LabelRule, VocabularyEntry, WorkbookDataset, WorkbookLayout } from '../layout/dataset.js';
import { ONS_AREAS, onsArea } from './ons-areas.js';

// `Footnotes` or `Notes` alone in a cell; a `Note: …` paragraph inside the table (2020) is not the end.
const STOP_AT_NOTES = '^(Footnotes?|Notes?)\\s*$|^Source\\b';
const MARKERS = [':', '..', '-', 'x', 'z', '[x]', '[z]', '[c]'];
const WEEK_PERIODS: Extract<WorkbookLayout, { periodAxis: 'rows' }>['periods'] = [
  { field: 'week_number', header: '^Week number', parse: 'week-number' },
  { field: 'week_ended', header: '^Week end', parse: 'date' },
];
/** Sheets of the accessible layout are numbered (`1`, `2`, `12a`); which number holds what changes between editions. */
const NUMBERED_SHEET = '^\\s*\\d+[a-z]?\\s*$';
const PRINTED_LABEL = { label: '{header}' };

/** Canonical measures: counts, except those listed as averages. */
const MEASURES = ['deaths', 'deaths_5y_average', 'deaths_respiratory', 'deaths_respiratory_icd10_v2010', 'deaths_covid19'];
const AVERAGES = ['deaths_5y_average'];

/** Bands as ONS prints them, compared normalised (`01-14` = `1-14`); null is all ages. */
const AGE_BANDS: VocabularyEntry[] = [
  { value: null, printed: ['All ages'] },
  { value: '<1', printed: ['Under 1 year', 'Under 1', 'Under 1 year old'] },
  ...['1-4', '5-9', '10-14', '15-19', '20-24', '25-29', '30-34', '35-39', '40-44', '45-49', '50-54', '55-59', '60-64', '65-69', '70-74', '75-79', '80-84', '85-89'].map((band) => ({ value: band, printed: [] })),
  ...['1-14', '15-44', '45-64', '65-74', '75-84'].map((band) => ({ value: band, printed: [] })),
  { value: '85+', printed: ['85 and over', '85 years and over'] },
  { value: '90+', printed: ['90 and over', '90 years and over'] },
];

/**
 * A single year in brackets that is not the edition's: `Total deaths, all ages (2020)` printed beside
 * `Total deaths, all ages (2021)` in a 2021 edition, for comparison. Ranges (`in 2015-2019`, `(2017 to
 * 2019 and 2021, 2022)`) and unbracketed years (a table title's `registered 2022`) are not this.
 */
const ANOTHER_YEAR = '\\((?!{edition}\\))(19|20)\\d{2}\\)';
const COMPARISON = 'names a year other than the edition ({edition}): figures printed for comparison';

/**
 * Printed labels (and stacked-table titles, in `section`) to canonical values, first rule to set a field
 * wins. Patterns see normalised text: lower case, notes and footnote digits removed, `01-14` as `1-14`.
 */
const LABEL_RULES: LabelRule[] = [
  { match: { label: ANOTHER_YEAR }, drop: COMPARISON },
  { match: { section: ANOTHER_YEAR }, drop: COMPARISON },
  { match: { label: 'average' }, set: { measure: 'deaths_5y_average' } },
  { match: { label: '^total deaths\\b' }, set: { measure: 'deaths' } },
  { match: { section: 'underlying cause', label: '^icd-10 v ?2010\\b' }, set: { measure: 'deaths_respiratory_icd10_v2010' } },
  { match: { label: 'respiratory' }, set: { measure: 'deaths_respiratory' } },
  { match: { label: 'covid' }, set: { measure: 'deaths_covid19' } },
  { match: { section: '\\bfemales\\b' }, set: { sex: 'female' } },
  { match: { section: '\\bmales\\b' }, set: { sex: 'male' } },
  { match: { section: '\\b(persons|people)\\b' }, set: { sex: 'all' } },
  { match: { section: 'covid' }, set: { measure: 'deaths_covid19' } },
  { match: { section: 'by age group' }, set: { measure: 'deaths' }, lookup: { age_band: { from: 'label', vocabulary: 'age_band' } } },
  { match: { section: 'by region' }, set: { measure: 'deaths' }, lookup: { area_name: { from: 'label', vocabulary: 'area' } } },
  // Column headers of the accessible layout name the area: `Total deaths England (2023)`.
  { match: { label: '\\bengland and wales\\b' }, set: onsArea('England and Wales') },
  { match: { label: '\\bengland\\b' }, set: onsArea('England') },
  { match: { label: '\\bwales\\b' }, set: onsArea('Wales') },
  { match: {}, set: { sex: 'all', age_band: null, ...onsArea('England and Wales') } },
];

export const weeklyDeaths: WorkbookDataset = {
  name: 'weekly-deaths',
  // 2: tidy dimensions (measure, sex, age_band, area_code, area_name, label_as_printed) replace section,
  // measure-as-printed and area; counts in deaths (INT64), averages in deaths_average (DOUBLE).
  version: 2,
  title: 'Deaths registered weekly in England and Wales, provisional',
  pageUrl: 'https://www.ons.gov.uk/peoplepopulationandcommunity/birthsdeathsandmarriages/deaths/datasets/weeklyprovisionalfiguresondeathsregisteredinenglandandwales',
  // Each week's release replaces the last, but an older file may be the only one left for some weeks.
  releases: 'newest-per-period',
  layouts: [
    {
      name: 'weeks across (2010-2021)',
      sheet: { namePattern: '^\\s*Weekly figures \\d{4}\\s*$' },
      periodAxis: 'columns',
      header: { searchRows: 20, minPeriods: 1 },
      periods: [
        { field: 'week_number', parse: 'week-number', offset: 0, label: '^Week number' },
        // A year with no week 53 may still print a `53` column, its week-ended cell a note such as `2020`.
        { field: 'week_ended', parse: 'date', offset: 1, label: '^Week end', placeholders: 'trailing' },
      ],
      // The label: the first id cell that is not a GSS code (regions carry one in column A from 2016 on).
      ids: [
        { field: 'label', pattern: '^(?![A-Z]\\d{8}$)', optional: false, clean: true },
        { field: 'area_code', pattern: '^[A-Z]\\d{8}$', optional: true, clean: false },
      ],
      headings: { field: 'section', labelField: 'label', ignore: '^Note\\b', continuation: '^[a-z]' },
      value: { field: 'value', markers: MARKERS },
      stopAt: STOP_AT_NOTES,
    },
    {
      name: 'weeks down (2022 on)',
      sheet: { namePattern: '^\\s*1\\s*$' },
      periodAxis: 'rows',
      header: { searchRows: 20 },
      periods: WEEK_PERIODS,
      // Only columns for the edition's own year: the previous year's figures are printed beside them for comparison.
      values: [
        { header: '^Total deaths,? England and Wales,? \\({edition}\\)', optional: false, set: PRINTED_LABEL },
        { header: '^Total deaths,? (England|Wales),? \\({edition}\\)', optional: true, set: PRINTED_LABEL },
        { header: '(five|5)[- ]year average', optional: true, set: PRINTED_LABEL },
      ],
      value: { field: 'value', markers: MARKERS },
      stopAt: STOP_AT_NOTES,
      // Ages, sexes and regions are on other sheets of the same workbook, found by their headers.
      companions: [
        {
          name: 'weeks down, by sex and age group',
          sheet: { namePattern: NUMBERED_SHEET },
          periodAxis: 'rows',
          header: { searchRows: 20, requires: ['^(<\\s*1|under 1)\\b'] },
          blocks: { title: '^Table \\w+:', field: 'section' },
          periods: WEEK_PERIODS,
          values: [{ header: '.', optional: false, set: PRINTED_LABEL }],
          value: { field: 'value', markers: MARKERS },
          stopAt: STOP_AT_NOTES,
        },
        {
          name: 'weeks down, by region',
          sheet: { namePattern: NUMBERED_SHEET },
          periodAxis: 'rows',
          header: { searchRows: 20, requires: ['^north east$', '^london$'] },
          blocks: { title: '^Table \\w+:', field: 'section' },
          periods: WEEK_PERIODS,
          values: [{ header: '.', optional: false, set: PRINTED_LABEL }],
          value: { field: 'value', markers: MARKERS },
          stopAt: STOP_AT_NOTES,
        },
      ],
    },
  ],
  columns: [
    { name: 'edition', type: 'int32', nullable: false, description: 'year of the edition' },
    { name: 'week_number', type: 'int32', nullable: false, description: 'ONS week number, 1-53' },
    { name: 'week_ended', type: 'date', nullable: false, description: 'last day of the week (a Friday)' },
    { name: 'measure', type: 'string', nullable: true, description: `${MEASURES.join(', ')}; null when the label is not in the declaration` },
    { name: 'sex', type: 'string', nullable: true, description: 'all, male, female' },
    { name: 'age_band', type: 'string', nullable: true, description: 'null for all ages, else <1, 1-4 … 85-89, 90+ (from 2020) or <1, 1-14, 15-44, 45-64, 65-74, 75-84, 85+ (earlier)' },
    { name: 'area_code', type: 'string', nullable: true, description: 'GSS code: K04000001 England and Wales, E92/W92 countries, E12 regions' },
    { name: 'area_name', type: 'string', nullable: true, description: 'England and Wales, England, Wales or an English region (East of England, printed East or not): the same names as area_name of monthly-deaths' },
    { name: 'label_as_printed', type: 'string', nullable: false, description: 'headings and label (or table title and column header) as printed, joined with " / "' },
    { name: 'deaths', type: 'int64', nullable: true, description: 'count measures; null for markers, blanks and averages' },
    { name: 'deaths_average', type: 'double', nullable: true, description: 'average measures (deaths_5y_average); else null' },
    { name: 'source_file', type: 'string', nullable: false, description: 'workbook file name' },
  ],
  rowRules: {
    labels: {
      printed: 'label_as_printed',
      from: ['section', 'label'],
      required: 'measure',
      canonical: ['measure', 'sex', 'age_band', 'area_code', 'area_name'],
      rules: LABEL_RULES,
      vocabularies: { age_band: AGE_BANDS, area: ONS_AREAS, measure: MEASURES.map((value) => ({ value, printed: [] })) },
    },
    values: { from: 'value', measure: 'measure', averages: AVERAGES, count: 'deaths', average: 'deaths_average' },
    unique: ['week_number', 'week_ended', 'measure', 'sex', 'age_band', 'area_name'],
  },
};
