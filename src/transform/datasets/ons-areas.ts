import type { VocabularyEntry } from '../layout/dataset.js';

/**
 * Areas as both ONS deaths datasets name them in `area_name`, whichever way an edition prints them
 * (`EAST` in monthly workbooks, `East` or `East of England` in weekly ones). Printed names are compared
 * normalised (case, `&` = and, footnote digits ignored), so only other wordings need listing. `set` gives
 * the GSS code the weekly dataset fills in.
 */
export const ONS_AREAS: VocabularyEntry[] = [
  { value: 'England, Wales and elsewhere', printed: ['Total registrations'] },
  { value: 'England and Wales', printed: [], set: { area_code: 'K04000001' } },
  { value: 'England', printed: [], set: { area_code: 'E92000001' } },
  { value: 'Wales', printed: [], set: { area_code: 'W92000004' } },
  { value: 'North East', printed: [], set: { area_code: 'E12000001' } },
  { value: 'North West', printed: [], set: { area_code: 'E12000002' } },
  { value: 'Yorkshire and The Humber', printed: ['Yorkshire and Humber'], set: { area_code: 'E12000003' } },
  { value: 'East Midlands', printed: [], set: { area_code: 'E12000004' } },
  { value: 'West Midlands', printed: [], set: { area_code: 'E12000005' } },
  { value: 'East of England', printed: ['East'], set: { area_code: 'E12000006' } },
  { value: 'London', printed: [], set: { area_code: 'E12000007' } },
  { value: 'South East', printed: [], set: { area_code: 'E12000008' } },
  { value: 'South West', printed: [], set: { area_code: 'E12000009' } },
  { value: 'Non-residents of England and Wales', printed: ['Non-residents', 'Non-resident'], set: { area_code: 'J99000001' } },
];

/** The entry of a canonical area name, with its code. */
export function onsArea(name: string): { area_name: string; area_code: string } {
  const entry = ONS_AREAS.find((area) => area.value === name);
  if (!entry?.set?.area_code) throw new Error(`${name} is not an ONS area with a code`);
  return { area_name: name, area_code: entry.set.area_code };
}
