import { readFile } from 'node:fs/promises';
import * as cheerio from 'cheerio';
import { describe, expect, it } from 'vitest';
import { sanitizeFileName, scrapeEditionLinks } from '../../src/extract/ons.js';
import { MONTHLY_DATASET_PATH, datasetPage, onsFileHref } from '../fixtures/ons/dataset-page.js';
import { hasSharedData, sharedFile } from '../helpers/shared-data.js';

const PAGE = 'https://www.ons.gov.uk/peoplepopulationandcommunity/birthsdeathsandmarriages/deaths/datasets/monthlyfiguresondeathsregisteredbyareaofusualresidence';

function scrape(html: string, pageUrl = PAGE): { links: ReturnType<typeof scrapeEditionLinks>; warnings: string[] } {
  const warnings: string[] = [];
  const links = scrapeEditionLinks(html, pageUrl, cheerio, (m) => warnings.push(m));
  return { links, warnings };
}

describe('scrapeEditionLinks', () => {
  it('takes the edition from the URL folder and the file name from the path', () => {
    const html = datasetPage('Monthly figures on deaths', [
      { heading: '2019', href: onsFileHref(MONTHLY_DATASET_PATH, '2019', 'annual2019publishedoutputrefresh.xls') },
      { heading: '2015', href: onsFileHref(MONTHLY_DATASET_PATH, '2015', 'publishedoutput2015final.xls') },
      { heading: '2024', href: onsFileHref(MONTHLY_DATASET_PATH, '2024', 'deathsregisteredmonthlyusualareaofresidenceenglandandwales.xlsx') },
    ]);
    const { links, warnings } = scrape(html);
    expect(warnings).toEqual([]);
    expect(links.map((l) => [l.edition, l.fileName])).toEqual([
      [2019, 'annual2019publishedoutputrefresh.xls'],
      [2015, 'publishedoutput2015final.xls'],
      [2024, 'deathsregisteredmonthlyusualareaofresidenceenglandandwales.xlsx'],
    ]);
    expect(links[0]!.url).toBe(`https://www.ons.gov.uk/file?uri=%2fpeoplepopulationandcommunity%2fbirthsdeathsandmarriages%2fdeaths%2fdatasets%2fmonthlyfiguresondeathsregisteredbyareaofusualresidence%2f2019/annual2019publishedoutputrefresh.xls`);
  });

  it('ignores off-host links with a warning, other file types silently, and duplicates', () => {
    const good = onsFileHref(MONTHLY_DATASET_PATH, '2018', 'publishedannual2018.xls');
    const html = datasetPage('Monthly figures on deaths', [
      { heading: '2018', href: good },
      { heading: '2018 again', href: good },
      { heading: '2017', href: 'https://evil.example.com/file?uri=/x/2017/publishedoutput2017.xls' },
      { heading: 'methodology', href: '/methodology/deaths.pdf' },
    ]);
    const { links, warnings } = scrape(html);
    expect(links.map((l) => l.fileName)).toEqual(['publishedannual2018.xls']);
    expect(warnings).toEqual(['ignoring a workbook link to another host: https://evil.example.com/file?uri=/x/2017/publishedoutput2017.xls']);
  });

  it('never lets a page choose a path outside the raw folder', () => {
    const html = datasetPage('Deaths', [
      { heading: '2016', href: `/file?uri=${encodeURIComponent('/a/2016/../../../etc/passwd.xls')}` },
      { heading: '2017', href: `/file?uri=${encodeURIComponent('/a/2017/..\\..\\evil name.xlsx')}` },
    ]);
    const { links } = scrape(html);
    for (const link of links) {
      expect(link.fileName).not.toMatch(/[/\\]|^\./);
    }
    expect(links.map((l) => l.fileName)).toEqual(['passwd.xls', 'evil_name.xlsx']);
    expect(sanitizeFileName('../../x.xls')).toBe('x.xls');
    expect(sanitizeFileName('..')).toBe('');
    expect(sanitizeFileName('report.pdf')).toBe('');
  });

  it('takes the year from the edition heading when the folder is `current`', () => {
    const html = datasetPage('Deaths', [{ heading: '2024', href: onsFileHref(MONTHLY_DATASET_PATH, 'current', 'monthly2024.xlsx') }]);
    expect(scrape(html).links.map((l) => l.edition)).toEqual([2024]);
  });

  it.skipIf(!hasSharedData)('reads the real multi-edition ONS page (../shared/data/html)', async () => {
    const pageUrl = 'https://www.ons.gov.uk/economy/inflationandpriceindices/datasets/onlinepricechangesforhighdemandproducts';
    const html = await readFile(sharedFile('html', 'ons_dataset_page_onlinepricechangesforhighdemandproducts_2020-09-24.html'), 'utf8');
    const { links, warnings } = scrape(html, pageUrl);
    expect(warnings).toEqual([]);
    // 17 download buttons; the JSON-LD contentUrl is not an <a> and is not counted twice.
    expect(links).toHaveLength(17);
    expect(new Set(links.map((l) => l.edition))).toEqual(new Set([2020]));
    expect(links[0]).toMatchObject({ fileName: 'pricesdataset.xlsx', edition: 2020 });
    expect(links.map((l) => l.fileName)).toContain('13augustpricesdataset.xlsx');
    for (const link of links) expect(new URL(link.url).host).toBe('www.ons.gov.uk');
  });
});
