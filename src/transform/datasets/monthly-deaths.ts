import type { WorkbookDataset } from '../layout/dataset.js';

export const monthlyDeaths: WorkbookDataset = {
  name: 'monthly-deaths',
  title: 'Monthly figures on deaths registered by area of usual residence, England and Wales',
  pageUrl: 'https://www.ons.gov.uk/peoplepopulationandcommunity/birthsdeathsandmarriages/deaths/datasets/monthlyfiguresondeathsregisteredbyareaofusualresidence',
  // A refreshed annual workbook replaces the earlier one whole.
  releases: 'newest-file',
  layouts: [
    {
      name: 'areas down, months across',
      sheet: { namePattern: '^\\s*Figures for \\d{4}\\s*$' },
      periodAxis: 'columns',
      header: { searchRows: 40, minPeriods: 3 },
      periods: [{ field: 'period', parse: 'month-label', offset: 0, mustBeInEditionYear: true }],
      ids: [
        // GSS codes (E09000001, `K04000001, J99000001`) and older ONS codes (00AA, 15UB): no spaces, at least one digit.
        { field: 'geo_code', pattern: '^(?=[A-Z0-9]*\\d)[A-Z0-9]{2,10}(\\s*,\\s*[A-Z0-9]{2,10})*$', optional: true, clean: false },
        // The name: the first remaining cell with two letters or more (2006-2010 spread names over three level columns).
        { field: 'geo_name', pattern: '[A-Za-z].*[A-Za-z]', optional: false, clean: true },
      ],
      value: { field: 'deaths', markers: [':', '..', '-', 'x', 'z', '*', '[x]', '[z]', '[c]'] },
      stopAt: '^(Footnotes?|Notes?|Source)\\b',
    },
  ],
  columns: [
    { name: 'edition', type: 'int32', nullable: false, description: 'year of the edition' },
    { name: 'period', type: 'date', nullable: false, description: 'first day of the month' },
    { name: 'geo_code', type: 'string', nullable: true, description: 'area code as printed (GSS or older codes)' },
    { name: 'geo_name', type: 'string', nullable: false, description: 'area name, footnote markers removed' },
    { name: 'deaths', type: 'int64', nullable: true, description: 'deaths registered; null where blank or not yet published' },
    { name: 'source_file', type: 'string', nullable: false, description: 'workbook file name' },
  ],
};
