import { ConfigError } from './errors.js';

/**
 * Source, dataset and pipeline names become folders and files (`raw/<source>/<dataset>/`,
 * `locks/<pipeline>.lock`), so they are identifiers, never paths: letters, digits, `-` and `_`,
 * starting with a letter or digit, at most 64 characters. `..`, `/`, `\`, a dot, a space or an
 * empty name can never reach a path.
 */
export const IDENTIFIER_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$';
const IDENTIFIER = new RegExp(IDENTIFIER_PATTERN);
export const IDENTIFIER_RULE = 'letters, digits, - and _, starting with a letter or digit, at most 64 characters';

export function isIdentifier(name: unknown): name is string {
  return typeof name === 'string' && IDENTIFIER.test(name);
}

/** The name, or a usage error (exit 2) saying what it names and the rule; `where` is e.g. `dataset` or `etl.yaml: pipelines.a.dataset`. */
export function checkIdentifier(name: string, where: string): string {
  if (isIdentifier(name)) return name;
  throw new ConfigError(`${where} ${showName(name)} is not a name etl accepts: ${IDENTIFIER_RULE}`, { hint: 'a name picks a folder under the data dir, so it cannot be a path' });
}

/** A name as typed, quoted and escaped (control characters included), cut short when long. */
export function showName(name: string): string {
  const shown = JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
  return shown.replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
