import { createHash } from 'node:crypto';

/**
 * The browsable page: one HTML document, its styles and script inline, nothing fetched from anywhere but this
 * server's own API (no build step, no CDN). It lists the datasets; a dataset's view shows its columns, the last
 * run, the first rows under filters the user adds, and a line chart (SVG drawn by the script below) of a numeric
 * column over a date column. Data reaches the DOM as text nodes only (textContent), never as HTML, and the
 * Content-Security-Policy allows this script and style alone, by hash.
 */
const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1b1f24; background: #fff; }
header { background: #16324f; color: #fff; padding: 10px 20px; }
header a { color: #fff; text-decoration: none; font-weight: 600; }
main { padding: 16px 20px; max-width: 1200px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border-bottom: 1px solid #d8dee4; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f5f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: #57606a; }
.error { color: #b42318; font-weight: 600; }
form, .filters { margin: 6px 0; }
.filters span { display: inline-block; background: #eef2f6; border-radius: 3px; padding: 1px 6px; margin-right: 6px; }
svg.chart { border: 1px solid #d8dee4; background: #fcfcfd; }
svg.chart path { fill: none; stroke: #1f6feb; stroke-width: 2; }
svg.chart text { font-size: 11px; fill: #57606a; }
svg.chart line { stroke: #d0d7de; }
`;

const SCRIPT = `
'use strict';
const main = document.querySelector('main');
const MAX_ROWS = Number(main.dataset.maxRows);
const el = (tag, attrs, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value); else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
};
const svgEl = (tag, attrs) => {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
};

async function api(path) {
  const headers = { Accept: 'application/json' };
  const token = sessionStorage.getItem('etl-token');
  if (token) headers.Authorization = 'Bearer ' + token;
  const response = await fetch(path, { headers });
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (response.status === 401) { askToken(); throw new Error(body.error); }
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function askToken() {
  const input = el('input', { type: 'password', size: '40', 'aria-label': 'token' });
  main.replaceChildren(el('p', {}, 'This server needs a token.'), el('form', { onsubmit: (event) => {
    event.preventDefault();
    sessionStorage.setItem('etl-token', input.value);
    route();
  } }, input, ' ', el('button', {}, 'Use token')));
}

function showError(error) {
  main.append(el('p', { class: 'error' }, error.message));
}

async function listDatasets() {
  main.replaceChildren(el('h1', {}, 'Datasets'), el('p', { class: 'muted' }, 'loading…'));
  const { datasets } = await api('/v1/datasets');
  const rows = datasets.map((d) => el('tr', {},
    el('td', {}, el('a', { href: '#/datasets/' + encodeURIComponent(d.source) + '/' + encodeURIComponent(d.name) }, d.id)),
    el('td', { class: 'num' }, d.rows.toLocaleString('en')),
    el('td', {}, d.columns.length + ' columns'),
    el('td', {}, d.last_run ? d.last_run.status + ' ' + (d.last_run.ended_at || d.last_run.started_at) : '-'),
    el('td', {}, age(d.age_seconds))));
  main.replaceChildren(el('h1', {}, 'Datasets'),
    datasets.length === 0 ? el('p', {}, 'The processed layer holds no datasets yet: run etl transform or etl run first.')
      : el('table', { class: 'datasets' }, el('thead', {}, el('tr', {}, ...['dataset', 'rows', 'columns', 'last run', 'written'].map((h) => el('th', {}, h)))), el('tbody', {}, ...rows)));
}

function age(seconds) {
  if (seconds < 120) return seconds + ' s ago';
  if (seconds < 7200) return Math.round(seconds / 60) + ' min ago';
  if (seconds < 172800) return Math.round(seconds / 3600) + ' h ago';
  return Math.round(seconds / 86400) + ' days ago';
}

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL)/;
const TEMPORAL = /^(DATE|TIMESTAMP)/;
const OPERATORS = [['eq', '='], ['ne', '≠'], ['gt', '>'], ['gte', '≥'], ['lt', '<'], ['lte', '≤'], ['in', 'in (a,b)'], ['null', 'is null (true/false)']];

async function showDataset(source, name) {
  main.replaceChildren(el('p', { class: 'muted' }, 'loading…'));
  const base = '/v1/datasets/' + encodeURIComponent(source) + '/' + encodeURIComponent(name);
  const d = await api(base);
  const filters = [];
  const columnSelect = el('select', { 'aria-label': 'column' }, ...d.columns.map((c) => el('option', { value: c.name }, c.name)));
  const operatorSelect = el('select', { 'aria-label': 'operator' }, ...OPERATORS.map(([op, label]) => el('option', { value: op }, label)));
  const valueInput = el('input', { 'aria-label': 'value', size: '18' });
  const filterList = el('div', { class: 'filters' });
  const rowsBox = el('div', {});
  const chartBox = el('div', {});
  const dates = d.columns.filter((c) => TEMPORAL.test(c.type));
  const numbers = d.columns.filter((c) => NUMERIC.test(c.type));
  const xSelect = el('select', { 'aria-label': 'date column' }, ...dates.map((c) => el('option', { value: c.name }, c.name)));
  const ySelect = el('select', { 'aria-label': 'numeric column' }, ...numbers.map((c) => el('option', { value: c.name }, c.name)));
  if (numbers.length > 0) ySelect.value = numbers[numbers.length - 1].name;

  const query = () => filters.map((f) => encodeURIComponent(f.op === 'eq' ? f.column : f.column + '__' + f.op) + '=' + encodeURIComponent(f.value)).join('&');
  const drawFilters = () => filterList.replaceChildren(...filters.map((f, i) => el('span', {}, f.column + ' ' + f.op + ' ' + f.value + ' ',
    el('a', { href: '#', onclick: (event) => { event.preventDefault(); filters.splice(i, 1); refresh(); } }, '×'))));

  async function loadRows(cursor) {
    const page = await api(base + '/rows?limit=50&' + query() + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    const body = el('tbody', {}, ...page.rows.map((row) => el('tr', {}, ...d.columns.map((c) => el('td', { class: NUMERIC.test(c.type) ? 'num' : '' }, row[c.name] === null ? '' : row[c.name])))));
    rowsBox.replaceChildren(
      el('table', { class: 'rows' }, el('thead', {}, el('tr', {}, ...d.columns.map((c) => el('th', {}, c.name)))), body),
      page.rows.length === 0 ? el('p', { class: 'muted' }, 'no rows match') : '',
      page.next ? el('button', { onclick: () => loadRows(page.next).catch(showError) }, 'next 50 rows') : '');
  }

  async function loadChart() {
    if (dates.length === 0 || numbers.length === 0) return chartBox.replaceChildren(el('p', { class: 'muted' }, 'no date and numeric columns to chart'));
    const x = xSelect.value, y = ySelect.value;
    const page = await api(base + '/rows?limit=' + Math.min(5000, MAX_ROWS) + '&order=' + encodeURIComponent(x) + '&columns=' + encodeURIComponent(x) + ',' + encodeURIComponent(y) + '&' + query());
    // Several rows on one date (areas, ages) are summed: narrow with filters to chart one series.
    const sums = new Map();
    for (const row of page.rows) if (row[x] !== null && row[y] !== null) sums.set(row[x], (sums.get(row[x]) || 0) + Number(row[y]));
    chartBox.replaceChildren(el('p', { class: 'muted' }, 'sum of ' + y + ' by ' + x + (page.next ? ' (first ' + page.rows.length + ' rows)' : '')), lineChart([...sums.entries()]));
  }

  function lineChart(points) {
    const width = 720, height = 260, pad = 44;
    const svg = svgEl('svg', { class: 'chart', width, height, viewBox: '0 0 ' + width + ' ' + height, role: 'img' });
    if (points.length === 0) return svg;
    const times = points.map(([t]) => Date.parse(t)), values = points.map(([, v]) => v);
    const [t0, t1] = [Math.min(...times), Math.max(...times)], [v0, v1] = [Math.min(0, ...values), Math.max(...values)];
    const sx = (t) => pad + (t1 === t0 ? 0.5 : (t - t0) / (t1 - t0)) * (width - 2 * pad);
    const sy = (v) => height - pad - (v1 === v0 ? 0.5 : (v - v0) / (v1 - v0)) * (height - 2 * pad);
    svg.append(svgEl('line', { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad }), svgEl('line', { x1: pad, y1: pad, x2: pad, y2: height - pad }));
    const label = (text, attrs) => { const node = svgEl('text', attrs); node.textContent = text; svg.append(node); };
    label(v1.toLocaleString('en'), { x: 4, y: pad + 4 });
    label(v0.toLocaleString('en'), { x: 4, y: height - pad + 4 });
    label(points[0][0], { x: pad, y: height - pad + 18 });
    label(points[points.length - 1][0], { x: width - pad, y: height - pad + 18, 'text-anchor': 'end' });
    svg.append(svgEl('path', { d: points.map(([, v], i) => (i === 0 ? 'M' : 'L') + sx(times[i]).toFixed(1) + ',' + sy(v).toFixed(1)).join(' ') }));
    return svg;
  }

  function refresh() {
    drawFilters();
    loadRows().catch(showError);
    loadChart().catch(showError);
  }

  const run = d.last_run;
  main.replaceChildren(
    el('h1', {}, d.id),
    el('p', {}, d.rows.toLocaleString('en') + ' rows in ' + d.files.length + ' file(s); written ' + age(d.age_seconds) + '. ',
      run ? 'Last run ' + run.run_id + ' (' + run.pipeline + '): ' + run.status + ', ' + (run.ended_at || run.started_at) + '.' : 'No run manifest names it.'),
    el('h2', {}, 'Columns'),
    el('table', { class: 'columns' }, el('tbody', {}, ...d.columns.map((c) => el('tr', {}, el('td', {}, c.name), el('td', { class: 'muted' }, c.type), el('td', {}, c.description || ''))))),
    el('h2', {}, 'Chart'),
    el('form', { onchange: () => loadChart().catch(showError) }, xSelect, ' against ', ySelect),
    chartBox,
    el('h2', {}, 'Rows'),
    el('form', { onsubmit: (event) => { event.preventDefault(); filters.push({ column: columnSelect.value, op: operatorSelect.value, value: valueInput.value }); valueInput.value = ''; refresh(); } },
      columnSelect, ' ', operatorSelect, ' ', valueInput, ' ', el('button', {}, 'add filter')),
    filterList,
    rowsBox);
  refresh();
}

function route() {
  const match = /^#\\/datasets\\/([^/]+)\\/([^/]+)$/.exec(location.hash);
  const work = match ? showDataset(decodeURIComponent(match[1]), decodeURIComponent(match[2])) : listDatasets();
  work.catch(showError);
}
window.addEventListener('hashchange', route);
route();
`;

const hash = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** Allows exactly the inline style and script above, API calls to this server, and nothing else. */
export const PAGE_CSP = `default-src 'none'; script-src ${hash(SCRIPT)}; style-src ${hash(STYLE)}; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

/** `maxRows`: the server's --max-rows, the most rows the chart may ask for at once. */
export function renderPage(maxRows: number): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>etl serve</title><link rel="icon" href="data:,"><style>${STYLE}</style></head>
<body><header><a href="#/">etl serve</a></header><main data-max-rows="${maxRows}"></main><script>${SCRIPT}</script></body></html>
`;
}
