import { createHash } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { peoplePage } from '../test/fixtures/random-person/people.js';

/**
 * A random-person raw layer as `etl extract` leaves it: pages of 5,000 generated people (the shape of
 * randomuser.me's answers) and a manifest. Returns the data directory.
 */
export async function writePeopleRawLayer(dataDir: string, people: number): Promise<string> {
  const rawDir = path.join(dataDir, 'raw', 'random-person', 'people');
  await rm(dataDir, { recursive: true, force: true });
  await mkdir(rawDir, { recursive: true });
  const files = [];
  for (let page = 1, left = people; left > 0; page++, left -= 5000) {
    const body = Buffer.from(peoplePage({ results: Math.min(5000, left), seed: 'bench', page }));
    const name = `page-${String(page).padStart(5, '0')}.json`;
    await writeFile(path.join(rawDir, name), body);
    files.push({
      path: name,
      key: `page-${page}`,
      request: { method: 'GET', url: `https://randomuser.me/api/?results=${Math.min(5000, left)}&seed=bench&page=${page}` },
      status: 200,
      bytes: body.length,
      sha256: createHash('sha256').update(body).digest('hex'),
      fetched_at: '2026-01-01T00:00:00.000Z',
    });
  }
  await writeFile(path.join(rawDir, 'manifest.json'), JSON.stringify({ source: 'random-person', dataset: 'people', updated_at: '2026-01-01T00:00:00.000Z', files }, null, 2));
  return dataDir;
}
