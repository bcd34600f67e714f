import { IDENTIFIER_PATTERN } from '../core/names.js';
import { ALERT_FIELDS, DESTINATION_FIELDS, OPTION_FIELDS, PARAM_TYPES, STEP_FIELDS, STEP_NAMES } from './config.js';

type Spec = Record<string, { type: string; description: string }>;

const REFERENCE = { type: 'string', pattern: '^\\$\\{[A-Za-z_][\\w-]*\\}$', description: 'a declared parameter, ${name}' };

/** The JSON Schema of a pipeline config file, built from the same field tables the validator uses. */
export function configJsonSchema(): Record<string, unknown> {
  const fields = (spec: Spec, required: string[] = []): Record<string, unknown> => ({
    type: 'object',
    additionalProperties: false,
    ...(required.length > 0 ? { required } : {}),
    properties: Object.fromEntries(Object.entries(spec).map(([name, field]) => [name, { description: field.description, anyOf: [jsonType(field.type), REFERENCE] }])),
  });
  const alert = fields(ALERT_FIELDS, ['url']);
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://www.npmjs.com/package/etl/etl.config.schema.json',
    title: 'etl pipelines',
    description: 'Pipelines for `etl run --config FILE [pipeline]` (YAML or JSON).',
    type: 'object',
    additionalProperties: false,
    required: ['pipelines'],
    properties: {
      $schema: { type: 'string' },
      data_dir: { type: 'string', description: 'root of the data layout for every pipeline (--data-dir)' },
      alert,
      pipelines: {
        type: 'object',
        minProperties: 1,
        propertyNames: { pattern: IDENTIFIER_PATTERN },
        additionalProperties: {
          type: 'object',
          additionalProperties: false,
          required: ['source'],
          properties: {
            source: { type: 'string', description: 'e.g. ons' },
            dataset: { type: 'string', pattern: IDENTIFIER_PATTERN, description: "e.g. weekly-deaths (default: the source's first)" },
            data_dir: { type: 'string', description: 'root of the data layout for this pipeline' },
            params: {
              type: 'object',
              description: 'parameters, used as ${name} in options and destination; --param name=value overrides the default',
              additionalProperties: {
                type: 'object',
                additionalProperties: false,
                required: ['type'],
                properties: { type: { enum: [...PARAM_TYPES] }, default: {}, description: { type: 'string' } },
              },
            },
            options: fields(OPTION_FIELDS),
            destination: fields(DESTINATION_FIELDS, ['bucket']),
            steps: { type: 'object', additionalProperties: false, properties: Object.fromEntries(STEP_NAMES.map((step) => [step, fields(STEP_FIELDS)])) },
            alert,
          },
        },
      },
    },
  };
}

function jsonType(type: string): Record<string, unknown> {
  if (type === 'year') return { type: 'integer', minimum: 1000, maximum: 9999 };
  if (type === 'text') return { type: ['string', 'integer'] };
  if (type === 'integer') return { type: 'integer', minimum: 0 };
  if (type === 'string-list') return { type: 'array', items: { type: 'string' } };
  return { type };
}
