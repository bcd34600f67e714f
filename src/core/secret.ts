import { inspect } from 'node:util';
import { registerSecret } from './redact.js';

/**
 * A credential as a typed value, not a string: printing it, putting it in a template literal or in
 * JSON gives its name (`SUPERMETRICS_API_KEY`), never its value. Requests carry secrets as such and
 * build their URL (or form, or headers) twice through one builder: once with `shown` for everything
 * that may be printed or stored, and once with `reveal` at the moment of sending only. So a message,
 * a manifest or an alert is made from the redacted form before any string holds the value; value
 * masking (redact()) stays behind it as a second line of defence.
 */
const values = new WeakMap<Secret, string>();

export class Secret {
  /** The setting (environment variable) that holds it: what messages show in its place. */
  readonly name: string;

  constructor(name: string, value: string) {
    this.name = name;
    values.set(this, value);
    registerSecret(value);
    Object.freeze(this);
  }

  toString(): string {
    return this.name;
  }

  toJSON(): string {
    return this.name;
  }

  [inspect.custom](): string {
    return `Secret(${this.name})`;
  }
}

/** How a builder turns a secret into text: `shown` for what is printed or stored, `reveal` for what is sent. */
export type Reveal = (secret: Secret) => string;

/** The secret's name in place of its value (letters, digits and `_`: the same in every encoding). */
export const shown: Reveal = (secret) => secret.name;

/** The value, for the bytes sent to the origin the secret was configured for, and nothing else. */
export const reveal: Reveal = (secret) => values.get(secret)!;

/** A URL that holds secrets: built with `shown` to print or store, with `reveal` to send. */
export type SecretUrl = (reveal: Reveal) => string;
