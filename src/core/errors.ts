/**
 * The error family. Commands and library code throw these; only src/cli.ts turns them into an
 * exit code and one line on stderr. Group by how the user recovers, not by where it was thrown.
 */
export interface ErrorDetails {
  /** What to do about it, shown after the message. */
  hint?: string;
  cause?: unknown;
}

export abstract class EtlError extends Error {
  abstract readonly exitCode: number;
  readonly hint: string | undefined;

  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.hint = details.hint;
  }
}

/** Bad flags, bad settings, missing credentials: fix the command line or the environment. */
export class ConfigError extends EtlError {
  readonly exitCode = 2;
}

/** The source could not be reached or answered wrongly (network, HTTP status, not a workbook). */
export class SourceError extends EtlError {
  readonly exitCode = 3;
  /** True when trying again later may help (429, 5xx, timeouts, dropped connections). */
  readonly retriable: boolean;

  constructor(message: string, details: ErrorDetails & { retriable?: boolean } = {}) {
    super(message, details);
    this.retriable = details.retriable ?? false;
  }
}

/** The data did not look as declared: no matching sheet, no header row, a label that does not parse. */
export class DataError extends EtlError {
  readonly exitCode = 4;
}

/** Upload or verification at the destination failed. */
export class LoadError extends EtlError {
  readonly exitCode = 5;
}

export const EXIT_OK = 0;
/** Anything that is not an EtlError is a bug in etl. */
export const EXIT_INTERNAL = 1;

export function isEtlError(error: unknown): error is EtlError {
  return error instanceof EtlError;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
