import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveParams, substitute, validateConfig } from '../../src/run/config.js';
import { configJsonSchema } from '../../src/run/config-schema.js';
import { MONTHLY_DATASET_PATH, datasetPage, onsFileHref } from '../fixtures/ons/dataset-page.js';
import { monthlySheets } from '../fixtures/ons/monthly-workbook.js';
import { startFileServer, type FileServer } from '../helpers/http-server.js';
import { readParquet } from '../helpers/parquet.js';
import { runCli } from '../helpers/run-cli.js';
import { writeWorkbook } from '../helpers/workbook-writer.js';

const pipelineWith = (fields: Record<string, unknown>) => ({ pipelines: { weekly: { source: 'ons', dataset: 'weekly-deaths', ...fields } } });

describe('pipeline config validation: every error names the field path', () => {
  it.each([
    { config: pipelineWith({ options: { form: 2015 } }), error: /^etl\.yaml: pipelines\.weekly\.options\.form: unknown field \(expected one of: url, from, to,/ },
    { config: pipelineWith({ options: { from: '20x' } }), error: /pipelines\.weekly\.options\.from: expected a four-digit year, got "20x"/ },
    { config: pipelineWith({ destination: { region: 'eu-west-2' } }), error: /pipelines\.weekly\.destination\.bucket: is required/ },
    { config: pipelineWith({ params: { first: { type: 'integer', default: 'x' } } }), error: /pipelines\.weekly\.params\.first\.default: expected an integer, got "x"/ },
    { config: pipelineWith({ params: { first: { type: 'date' } } }), error: /pipelines\.weekly\.params\.first\.type: expected one of string, integer, boolean, list/ },
    { config: pipelineWith({ options: { from: '${first}' } }), error: /pipelines\.weekly\.options\.from: refers to \$\{first\}, which is not declared under params/ },
    { config: pipelineWith({ steps: { extract: { retries: -1 } } }), error: /pipelines\.weekly\.steps\.extract\.retries: expected a whole number of 0 or more, got -1/ },
    { config: pipelineWith({ steps: { publish: {} } }), error: /pipelines\.weekly\.steps\.publish: unknown field/ },
    { config: { pipelines: { weekly: { dataset: 'weekly-deaths' } } }, error: /pipelines\.weekly\.source: expected a non-empty string, got nothing/ },
    { config: { pipelines: [] }, error: /etl\.yaml: pipelines: expected a mapping, got \[\]/ },
  ])('$error', ({ config, error }) => {
    expect(() => validateConfig(config, 'etl.yaml')).toThrow(error);
  });

  it('parameters: defaults, --param overrides parsed by type, typed substitution', () => {
    const [pipeline] = validateConfig(pipelineWith({ params: { first: { type: 'integer', default: 2015 }, tag: { type: 'string' } }, options: { from: '${first}', out: 'out/${tag}.parquet' } }), 'etl.yaml');
    expect(() => resolveParams(pipeline!, [], 'etl.yaml')).toThrow(/parameter tag has no default and no value/);
    expect(() => resolveParams(pipeline!, ['first=soon', 'tag=a'], 'etl.yaml')).toThrow(/--param first=soon: expected a whole number/);
    expect(() => resolveParams(pipeline!, ['city=1'], 'etl.yaml')).toThrow(/declares no such parameter/);
    const values = resolveParams(pipeline!, ['first=2019', 'tag=recent'], 'etl.yaml');
    expect(substitute(pipeline!.options, values, 'pipelines.weekly.options', 'etl.yaml')).toEqual({ from: 2019, out: 'out/recent.parquet' });
    expect(() => substitute(pipeline!.options, { ...values, first: 19 }, 'pipelines.weekly.options', 'etl.yaml')).toThrow(/pipelines\.weekly\.options\.from: expected a four-digit year, got 19 \(after parameters were filled in\)/);
  });

  it('the published etl.config.schema.json is the schema the validator enforces', async () => {
    const published = JSON.parse(await readFile(path.resolve('etl.config.schema.json'), 'utf8'));
    expect(published).toEqual(configJsonSchema());
  });
});

describe('etl run --config with a YAML file of several pipelines', () => {
  let work: string;
  let server: FileServer;
  const page = '/datasets/monthly';

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'etl-config-'));
    const files: Record<string, { body: Buffer | string; contentType?: string }> = {};
    const links = [];
    for (const year of [2015, 2019]) {
      const file = path.join(work, `m${year}.xlsx`);
      await writeWorkbook(file, monthlySheets({ year }));
      const href = onsFileHref(MONTHLY_DATASET_PATH, String(year), `m${year}.xlsx`);
      files[href] = { body: await readFile(file) };
      links.push({ heading: String(year), href });
    }
    files[page] = { contentType: 'text/html', body: datasetPage('Monthly', links) };
    server = await startFileServer(files);
    await writeFile(
      path.join(work, 'etl.config.yaml'),
      `# yaml-language-server: $schema=../etl.config.schema.json
data_dir: ${path.join(work, 'data')}
pipelines:
  monthly:
    source: ons
    params:
      first: { type: integer, default: 2015 }
    options:
      url: ${server.url}${page}
      from: \${first}
      out: ${path.join(work, 'monthly-from-${first}.parquet')}
    steps:
      extract: { retries: 1 }
  weekly:
    source: ons
    dataset: weekly-deaths
`,
    );
  });
  afterAll(async () => {
    await server.close();
    await rm(work, { recursive: true, force: true });
  });

  it('runs the named pipeline with --param overriding a default, and records it under its own name', async () => {
    const config = path.join(work, 'etl.config.yaml');
    const result = await runCli(['--json', 'run', '--config', config, 'monthly', '--param', 'first=2019']);
    expect(result.code, result.stderr).toBe(0);
    const manifest = JSON.parse(result.stdout);
    expect(manifest).toMatchObject({ pipeline: 'monthly', params: { from: 2019, data_dir: path.join(work, 'data'), step_retries: { extract: 1, transform: 0, load: 0 } } });
    const { rows } = await readParquet(path.join(work, 'monthly-from-2019.parquet'));
    expect(new Set(rows.map((r) => r.edition))).toEqual(new Set([2019]));

    const ambiguous = await runCli(['run', '--config', config]);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toMatch(/declares several pipelines: monthly, weekly/);
  });
});
