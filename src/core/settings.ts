import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { ConfigError } from './errors.js';
import { registerSecret } from './redact.js';
import { Secret } from './secret.js';

/**
 * Settings come from the environment, or from a `.env` file in the working directory for what the
 * environment does not set. Secrets are read here only, never from flags, and are registered with
 * redact() so their value cannot reach a log line or an error.
 */
let dotEnv: Record<string, string> | undefined;

function readDotEnv(): Record<string, string> {
  if (dotEnv) return dotEnv;
  const file = path.resolve('.env');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return (dotEnv = {});
  }
  // Node's parser takes any text: lines that are not KEY=value are skipped.
  return (dotEnv = parseEnv(text) as Record<string, string>);
}

/** Settings the environment leaves unset are taken from ./.env, so flags with an env fallback see them too. */
export function applyDotEnv(): void {
  for (const [name, value] of Object.entries(readDotEnv())) process.env[name] ??= value;
}

export function readSetting(name: string): string | undefined {
  const value = process.env[name] ?? readDotEnv()[name];
  return value || undefined; // an empty value is unset
}

export function readSecret(name: string, purpose: string): string {
  const value = readSetting(name);
  if (value === undefined) {
    throw new ConfigError(`${name} is not set: it holds ${purpose}`, {
      hint: `export ${name}=… or add a line ${name}=… to ${path.resolve('.env')}; it is never read from a flag`,
    });
  }
  registerSecret(value);
  return value;
}

/** A secret setting as a typed value (see secret.ts): requests carry it, and only the sending builder reveals it. */
export function secretSetting(name: string, purpose: string): Secret {
  return new Secret(name, readSecret(name, purpose));
}
