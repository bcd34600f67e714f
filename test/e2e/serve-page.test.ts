import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monthlySheets } from '../fixtures/ons/monthly-workbook.js';
import { connectCdp, launchChromium, type Browser, type CdpSession } from '../helpers/cdp.js';
import { decodePng } from '../helpers/png.js';
import { runCli } from '../helpers/run-cli.js';
import { startServe, type ServeProcess } from '../helpers/serve.js';
import { writeWorkbook } from '../helpers/workbook-writer.js';

/**
 * The page in a real browser: headless Chromium (Debian's `chromium` package) driven over the DevTools
 * protocol. CI installs it (.ci/run) and fails without it; elsewhere the test is skipped with this reason.
 */
const chromium = ((): string | undefined => {
  if (process.env.ETL_CHROMIUM) return process.env.ETL_CHROMIUM;
  try {
    return execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
})();
if (!chromium) {
  if (process.env.CI) throw new Error('chromium not found: CI installs it (apt-get install chromium) so that the page is tested in a browser');
  console.warn('[skip] chromium not found (apt-get install chromium, or set ETL_CHROMIUM): the browser test of the `etl serve` page is skipped');
}

let work: string;
let serve: ServeProcess;
let browser: Browser;
let page: CdpSession;
const problems: string[] = [];

async function evaluate<T>(expression: string): Promise<T> {
  const { result, exceptionDetails } = await page.send<{ result: { value: T }; exceptionDetails?: unknown }>('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
  if (exceptionDetails) throw new Error(`${expression}: ${JSON.stringify(exceptionDetails)}`);
  return result.value;
}

/** Polls the page until `expression` is truthy (the page renders asynchronously); fails with what it last saw. */
async function waitFor<T>(expression: string, what: string): Promise<T> {
  let last: T | undefined;
  for (let i = 0; i < 200; i++) {
    last = await evaluate<T>(expression);
    if (last) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the page never showed ${what} (last: ${JSON.stringify(last)}; page text: ${await evaluate<string>('document.body.innerText')})`);
}

describe.skipIf(!chromium)('the etl serve page in headless Chromium', () => {
  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'etl-serve-page-'));
    const dataDir = path.join(work, 'data');
    const inputs = path.join(work, 'workbooks');
    await mkdir(inputs, { recursive: true });
    await writeWorkbook(path.join(inputs, 'Monthly2019Mortality.xlsx'), monthlySheets({ year: 2019 }));
    await writeWorkbook(path.join(inputs, 'Monthly2020Mortality.xlsx'), monthlySheets({ year: 2020, publishedMonths: 6 }));
    const transform = await runCli(['transform', 'ons', 'monthly-deaths', '--input', inputs, '--data-dir', dataDir]);
    expect(transform.code, transform.stderr).toBe(0);
    // A run manifest as `etl run` writes it, naming the file: the page shows it as the last run.
    await mkdir(path.join(dataDir, 'runs'));
    const output = path.resolve(dataDir, 'processed', 'ons', 'monthly-deaths.parquet');
    await writeFile(
      path.join(dataDir, 'runs', '20261201T061500123Z-ons-monthly-deaths-3f9a.json'),
      JSON.stringify({ run_id: '20261201T061500123Z-ons-monthly-deaths-3f9a', pipeline: 'ons-monthly-deaths', params: {}, etl_version: '0.1.0', pid: 1, status: 'succeeded', started_at: '2026-12-01T06:15:00.123Z', ended_at: '2026-12-01T06:16:00.000Z', steps: [{ name: 'transform', status: 'succeeded', started_at: '2026-12-01T06:15:10.000Z', duration_s: 3, attempts: 1, cache: 'ran', inputs: [], outputs: [{ path: output, sha256: 'x', bytes: 1 }] }] }),
    );
    serve = await startServe(['--data-dir', dataDir]);
    browser = await launchChromium(chromium!, path.join(work, 'profile'));
    const targets = (await (await fetch(`${browser.endpoint}/json/list`)).json()) as Array<{ type: string; webSocketDebuggerUrl: string }>;
    page = await connectCdp(targets.find((t) => t.type === 'page')!.webSocketDebuggerUrl);
    page.on('Runtime.exceptionThrown', (params) => problems.push(`exception: ${JSON.stringify(params.exceptionDetails)}`));
    page.on('Runtime.consoleAPICalled', (params) => {
      if (params.type === 'error' || params.type === 'assert') problems.push(`console.${String(params.type)}: ${JSON.stringify(params.args)}`);
    });
    page.on('Log.entryAdded', (params) => {
      const entry = params.entry as { level: string; text: string; url?: string };
      if (entry.level === 'error') problems.push(`log: ${entry.text} ${entry.url ?? ''}`);
    });
    await Promise.all([page.send('Runtime.enable'), page.send('Log.enable'), page.send('Page.enable')]);
  });

  afterAll(async () => {
    page?.close();
    await browser?.close();
    await serve?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('lists the datasets with their last run', async () => {
    await page.send('Page.navigate', { url: `${serve.url}/` });
    const cells = await waitFor<string[]>(`(() => { const cells = [...document.querySelectorAll('table.datasets tbody td')].map((td) => td.textContent); return cells.length > 0 && cells; })()`, 'the dataset table');
    expect(cells[0]).toBe('ons/monthly-deaths');
    expect(cells[3]).toBe('succeeded 2026-12-01T06:16:00.000Z');
  });

  it('a dataset page shows columns, the last run, rows, filters and a line chart, with no console error, on a non-blank screenshot', async () => {
    await page.send('Page.navigate', { url: `${serve.url}/#/datasets/ons/monthly-deaths` });
    const rows = await waitFor<number>(`document.querySelectorAll('table.rows tbody tr').length`, 'rows');
    expect(rows).toBe(50);
    expect(await evaluate<string>('document.body.innerText')).toMatch(/Last run 20261201T061500123Z-ons-monthly-deaths-3f9a \(ons-monthly-deaths\): succeeded/);
    const columns = await evaluate<string[]>(`[...document.querySelectorAll('table.columns td:first-child')].map((td) => td.textContent)`);
    expect(columns).toEqual(['edition', 'period', 'geo_code', 'geo_code_extra', 'geo_name', 'area_name', 'geo_level', 'deaths', 'source_file']);
    await waitFor<string>(`document.querySelector('svg.chart path')?.getAttribute('d')`, 'a chart');

    // A filter added through the form: one area, so the chart is one series.
    await evaluate(`(() => {
      document.querySelector('select[aria-label=column]').value = 'geo_code';
      document.querySelector('input[aria-label=value]').value = 'E06000047';
      document.querySelector('input[aria-label=value]').form.requestSubmit();
    })()`);
    const areaRows = await waitFor<string[]>(
      `(() => { const cells = [...document.querySelectorAll('table.rows tbody tr td:nth-child(3)')].map((td) => td.textContent); return cells.length === 24 && cells; })()`,
      '24 rows of E06000047',
    );
    expect(new Set(areaRows)).toEqual(new Set(['E06000047']));
    // 2019's twelve months and 2020's six published ones (the rest are null and not drawn).
    const line = await waitFor<string>(`(() => { const d = document.querySelector('svg.chart path')?.getAttribute('d'); return d && d.split(/[ML]/).filter(Boolean).length === 18 && d; })()`, 'a chart of 18 points');
    expect(line).toMatch(/^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+){17}$/);

    const { data } = await page.send<{ data: string }>('Page.captureScreenshot', { format: 'png' });
    const shot = Buffer.from(data, 'base64');
    const { pixels, channels, width, height } = decodePng(shot);
    const colours = new Set<string>();
    let inked = 0;
    for (let i = 0; i < pixels.length; i += channels) {
      const [r, g, b] = [pixels[i]!, pixels[i + 1]!, pixels[i + 2]!];
      colours.add(`${r >> 4},${g >> 4},${b >> 4}`);
      if (r + g + b < 600) inked++;
    }
    expect(width * height).toBeGreaterThan(100_000);
    expect(colours.size).toBeGreaterThan(10);
    expect(inked / (width * height)).toBeGreaterThan(0.02);
    expect(problems).toEqual([]);
  });
});
