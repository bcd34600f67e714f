import { ConfigError } from '../core/errors.js';
import type { InputFile } from './input-files.js';

/** `--key` placeholders. The key is always the `--bucket` prefix followed by the rendered template. */
const PLACEHOLDERS = ['name', 'date', 'edition'] as const;
export const DEFAULT_KEY_TEMPLATE = '{name}';

export function checkKeyTemplate(template: string): void {
  const unknown = [...template.matchAll(/\{([^}]*)\}/g)].map((match) => match[1]).filter((name) => !PLACEHOLDERS.includes(name as never));
  if (unknown.length > 0 || !template.includes('{name}')) {
    throw new ConfigError(`--key ${JSON.stringify(template)} ${unknown.length > 0 ? `has unknown placeholder {${unknown[0]}}` : 'must contain {name}'}`, {
      hint: 'placeholders: {name} (file name, or path below a directory input), {date} (YYYY-MM-DD, UTC), {edition} (the year in the file path)',
    });
  }
}

/** The edition is the first year-like number in the path, e.g. 2019 in `monthly/2019/deaths.parquet`. */
function editionOf(name: string): string | undefined {
  return /(?:^|\D)((?:19|20)\d{2})(?!\d)/.exec(name)?.[1];
}

export function renderObjectKey(prefix: string, template: string, file: InputFile, now: Date): string {
  const key = prefix + template.replace(/\{(name|date|edition)\}/g, (_match, placeholder: string) => {
    if (placeholder === 'name') return file.name;
    if (placeholder === 'date') return now.toISOString().slice(0, 10);
    const edition = editionOf(file.name);
    if (!edition) throw new ConfigError(`--key uses {edition} but ${file.name} has no year in its path`, { hint: 'rename the file or drop {edition} from --key' });
    return edition;
  });
  if (key.split('/').some((part) => part === '..' || part === '.') || key.startsWith('/')) {
    throw new ConfigError(`object key ${JSON.stringify(key)} would escape the destination prefix`, { hint: 'remove "." and ".." from --key' });
  }
  return key;
}
