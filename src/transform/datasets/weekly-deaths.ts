import type { WorkbookDataset } from '../layout/dataset.js';

// `Footnotes` or `Notes` alone in a cell; a `Note: …` paragraph inside the table (2020) is not the end.
const STOP_AT_NOTES = '^(Footnotes?|Notes?)\\s*$|^Source\\b';
const MARKERS = [':', '..', '-', 'x', 'z', '[x]', '[z]', '[c]'];
const ENGLAND_AND_WALES = 'England and Wales';
const TOTAL_DEATHS = 'Total deaths, all ages';

export const weeklyDeaths: WorkbookDataset = {
  name: 'weekly-deaths',
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
        { field: 'week_ended', parse: 'date', offset: 1, label: '^Week end' },
      ],
      // The label: the first id cell that is not a GSS code (regions carry one in column A from 2016 on).
      ids: [{ field: 'measure', pattern: '^(?![A-Z]\\d{8}$)', optional: false, clean: true }],
      headings: {
        field: 'section',
        labelField: 'measure',
        ignore: '^Note\\b',
        continuation: '^[a-z]',
        areas: { heading: 'region', field: 'area' },
      },
      set: { area: ENGLAND_AND_WALES },
      value: { field: 'value', markers: MARKERS },
      stopAt: STOP_AT_NOTES,
    },
    {
      name: 'weeks down (2022 on)',
      sheet: { namePattern: '^\\s*1\\s*$' },
      periodAxis: 'rows',
      header: { searchRows: 20 },
      periods: [
        { field: 'week_number', header: '^Week number', parse: 'week-number' },
        { field: 'week_ended', header: '^Week end', parse: 'date' },
      ],
      // Only columns for the edition's own year: the previous year's figures are printed beside them for comparison.
      values: [
        { header: '^Total deaths,? England and Wales \\({edition}\\)', optional: false, set: { measure: TOTAL_DEATHS, area: ENGLAND_AND_WALES } },
        { header: '^Total deaths,? England \\({edition}\\)', optional: true, set: { measure: TOTAL_DEATHS, area: 'England' } },
        { header: '^Total deaths,? Wales \\({edition}\\)', optional: true, set: { measure: TOTAL_DEATHS, area: 'Wales' } },
        {
          header: '^Total deaths,? England and Wales,? (five|5)[- ]year average',
          optional: true,
          set: { measure: 'Total deaths: five-year average for the corresponding week', area: ENGLAND_AND_WALES },
        },
      ],
      value: { field: 'value', markers: MARKERS },
      stopAt: STOP_AT_NOTES,
    },
  ],
  columns: [
    { name: 'edition', type: 'int32', nullable: false, description: 'year of the edition' },
    { name: 'week_number', type: 'int32', nullable: false, description: 'ONS week number, 1-53' },
    { name: 'week_ended', type: 'date', nullable: false, description: 'last day of the week (a Friday)' },
    { name: 'section', type: 'string', nullable: true, description: 'headings the row sits under, innermost first (e.g. "Deaths by age group, Males")' },
    { name: 'measure', type: 'string', nullable: false, description: 'row label, footnote markers removed; for regions, the region heading' },
    { name: 'area', type: 'string', nullable: false, description: 'England and Wales, unless the row is for a country or region' },
    { name: 'value', type: 'double', nullable: true, description: 'null for markers and blanks' },
    { name: 'source_file', type: 'string', nullable: false, description: 'workbook file name' },
  ],
};
