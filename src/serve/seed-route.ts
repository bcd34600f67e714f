import type { Json } from '@duckdb/node-api';
import type { DatasetLocation } from './catalog.js';
import type { Engine } from './engine.js';
import { badRequest, HttpError } from './http-error.js';
import { pinFiles } from './pinned-files.js';

export interface SeedAnswer {
  year: number;
  geo_code: string;
  /** Deaths by the first day of each month, `YYYY-MM-DD`. */
  data: Record<string, Json>;
}

/**
 * The route the deaths pipeline this toolkit grew from answered, same shape: one area's monthly deaths in one
 * year, from ons/monthly-deaths. A code printed alone is meant (`K04000001` is England and Wales, not the
 * combined cell that adds the non-residents); a month printed twice for the area (WALES among the regions
 * too) counts once.
 */
export async function seedAnswer(engine: Engine, location: DatasetLocation, yearText: string, geoCode: string): Promise<SeedAnswer> {
  if (!/^\d{4}$/.test(yearText)) throw badRequest(`year ${JSON.stringify(yearText)} is not a four-digit year`);
  if (!/^[A-Za-z0-9]{1,16}$/.test(geoCode)) throw badRequest(`geo_code ${JSON.stringify(geoCode)} is not an area code (letters and digits)`);
  const year = Number(yearText);
  const pinned = await pinFiles(location);
  try {
    const params: string[] = [];
    const bind = (value: string): string => `$${params.push(value)}`;
    const sql = `SELECT strftime(period, '%Y-%m-%d') AS day, any_value(deaths ORDER BY geo_level) AS deaths FROM ${pinned.from(bind)}
      WHERE geo_code = ${bind(geoCode)} AND geo_code_extra IS NULL AND period >= CAST(${bind(`${year}-01-01`)} AS DATE) AND period < CAST(${bind(`${year + 1}-01-01`)} AS DATE)
      GROUP BY period ORDER BY period`;
    const rows = await engine.withConnection(async (connection) => (await connection.runAndReadAll(sql, params)).getRowObjectsJson());
    if (rows.length === 0) throw new HttpError(404, `no monthly deaths for geo_code ${geoCode} in ${year}`);
    const data: Record<string, Json> = {};
    for (const row of rows) data[String(row.day)] = typeof row.deaths === 'string' ? Number(row.deaths) : row.deaths!;
    return { year, geo_code: geoCode, data };
  } finally {
    await pinned.release();
  }
}
