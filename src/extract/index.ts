import { ConfigError } from '../core/errors.js';
import type { Source } from '../core/source.js';
import { ons } from './ons.js';

/** Every source, one line each. */
export const sources: readonly Source[] = [ons];

export function findSource(name: string): Source {
  const source = sources.find((s) => s.name === name);
  if (!source) throw new ConfigError(`unknown source "${name}"`, { hint: `choose one of: ${sources.map((s) => s.name).join(', ')}` });
  return source;
}
