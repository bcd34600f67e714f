import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { MONTHLY_DATASET_PATH, datasetPage, onsFileHref } from '../fixtures/ons/dataset-page.js';
import { monthlySheets, type MonthlyShape } from '../fixtures/ons/monthly-workbook.js';
import type { ServedFile } from '../helpers/http-server.js';
import { writeWorkbook } from '../helpers/workbook-writer.js';

/** A small ONS monthly-deaths site (page + three editions) and a refreshed copy of the 2019 workbook. */
export const EDITIONS: Array<{ shape: MonthlyShape; file: string }> = [
  { shape: { year: 2015 }, file: 'publishedoutput2015final.xls' },
  { shape: { year: 2019 }, file: 'annual2019publishedoutputrefresh.xls' },
  { shape: { year: 2021, publishedMonths: 9 }, file: 'deaths2021.xlsx' },
];
export const PAGE = '/datasets/monthlyfiguresondeathsregisteredbyareaofusualresidence';
export const fileHref = (edition: number, file: string): string => onsFileHref(MONTHLY_DATASET_PATH, String(edition), file);
export const REFRESHED_PATH = fileHref(2019, EDITIONS[1]!.file);

export interface OnsSite {
  files: Record<string, ServedFile>;
  /** The 2019 workbook as ONS republishes it in place with two more months. */
  refreshed: ServedFile;
}

export async function buildOnsSite(work: string): Promise<OnsSite> {
  const build = path.join(work, 'build');
  await mkdir(build, { recursive: true });
  const workbook = async (name: string, shape: MonthlyShape): Promise<Buffer> => {
    await writeWorkbook(path.join(build, name), monthlySheets(shape));
    return readFile(path.join(build, name));
  };
  const files: Record<string, ServedFile> = {};
  for (const { shape, file } of EDITIONS) files[fileHref(shape.year, file)] = { body: await workbook(file, shape) };
  files[PAGE] = { contentType: 'text/html', body: datasetPage('Monthly figures', EDITIONS.map(({ shape, file }) => ({ heading: String(shape.year), href: fileHref(shape.year, file) }))) };
  return { files, refreshed: { body: await workbook('refreshed.xls', { ...EDITIONS[1]!.shape, publishedMonths: 11 }) } };
}
