import type { WorkbookDataset } from '../layout/dataset.js';
import { ONS_AREAS } from './ons-areas.js';

/** Each level sums on its own: `total` is England and Wales; `total_incl_non_residents` adds the non-residents. */
const GEO_LEVELS = ['total_incl_non_residents', 'total', 'country', 'region', 'county', 'local_authority', 'non_resident'];
/** Normalised (lower case, `&` = and); `east` is printed `East` or `East of England`. */
const ENGLISH_REGIONS = ['north east', 'north west', 'yorkshire and (the )?humber', 'east midlands', 'west midlands', 'east( of england)?', 'london', 'south east', 'south west'];

export const monthlyDeaths: WorkbookDataset = {
  name: 'monthly-deaths',
  // 2: geo_level added, a combined code cell split into geo_code and geo_code_extra.
  // 3: area_name added; the combined row (England, Wales and elsewhere) is total_incl_non_residents, no longer total.
  version: 3,
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
        { field: 'geo_name', pattern: '[A-Za-z].*[A-Za-z]', optional: false, clean: true, depthField: 'name_depth' },
      ],
      value: { field: 'deaths', markers: [':', '..', '-', 'x', 'z', '*', '[x]', '[z]', '[c]'] },
      stopAt: '^(Footnotes?|Notes?|Source)\\b',
    },
  ],
  columns: [
    { name: 'edition', type: 'int32', nullable: false, description: 'year of the edition' },
    { name: 'period', type: 'date', nullable: false, description: 'first day of the month' },
    { name: 'geo_code', type: 'string', nullable: true, description: 'area code as printed (GSS or older codes); the first one where a cell prints several' },
    { name: 'geo_code_extra', type: 'string', nullable: true, description: 'the other codes of a cell that prints several (K04000001, J99000001 -> J99000001), else null' },
    { name: 'geo_name', type: 'string', nullable: false, description: 'area name as printed (EAST, ENGLAND AND WALES), footnote markers removed' },
    { name: 'area_name', type: 'string', nullable: true, description: 'canonical name, as weekly-deaths names areas (East of England, England and Wales); other areas as printed' },
    { name: 'geo_level', type: 'string', nullable: false, description: `${GEO_LEVELS.join(', ')}: sum one level at a time` },
    { name: 'deaths', type: 'int64', nullable: true, description: 'deaths registered; null where blank or not yet published' },
    { name: 'source_file', type: 'string', nullable: false, description: 'workbook file name' },
  ],
  rowRules: {
    split: [{ field: 'geo_code', separator: ',', rest: 'geo_code_extra' }],
    // The name both ONS datasets use for an area; local authorities and counties keep their printed name.
    labels: {
      printed: 'geo_name',
      from: ['geo_name'],
      required: 'area_name',
      canonical: ['area_name'],
      rules: [{ match: {}, lookup: { area_name: { from: 'geo_name', vocabulary: 'area', otherwise: 'printed' } } }],
      vocabularies: { area: ONS_AREAS },
    },
    classify: [
      {
        field: 'geo_level',
        values: GEO_LEVELS,
        // The GSS code prefix when there is one; else the level column the name is printed in (2006-2010);
        // else the name itself (editions with no code column). Names are compared normalised (lower case, `&` = and).
        // A cell printing a non-resident code beside the total's (`K04000001, J99000001`) is the total with non-residents.
        when: [
          { value: 'total_incl_non_residents', match: { geo_code: '^k04', geo_code_extra: '\\bj99' } },
          { value: 'total', match: { geo_code: '^k04' } },
          { value: 'country', match: { geo_code: '^(e92|w92)' } },
          { value: 'region', match: { geo_code: '^e12' } },
          { value: 'county', match: { geo_code: '^(e10|e11|e13)' } },
          { value: 'local_authority', match: { geo_code: '^(e06|e07|e08|e09|w06)' } },
          { value: 'non_resident', match: { geo_code: '^j99' } },
          { value: 'total_incl_non_residents', match: { geo_name: '^england,? wales and elsewhere$|^total registrations$' } },
          { value: 'total', match: { geo_name: '^england and wales$' } },
          { value: 'non_resident', match: { geo_name: 'non-?residents?' } },
          { value: 'country', match: { geo_name: '^(england|wales)$', name_depth: '^0$' } },
          { value: 'region', match: { name_depth: '^1$' } },
          { value: 'local_authority', match: { name_depth: '^[2-9]$' } },
          { value: 'region', match: { geo_name: `^(${ENGLISH_REGIONS.join('|')})$` } },
          { value: 'county', match: { geo_name: '\\(met(ropolitan)? county\\)$|\\bcounty$' } },
        ],
        otherwise: 'local_authority',
        // Some editions print WALES twice, as a country and again among the regions (once per sheet row).
        repeated: { key: ['geo_name'], from: 'country', to: 'region' },
      },
    ],
  },
};
