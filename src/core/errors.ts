import path from 'node:path';

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
  /** The word users see before "error" (`etl: config error: …`); a subclass keeps its family's word unless it is a kind of its own. */
  abstract readonly kind: string;
  readonly hint: string | undefined;

  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.hint = details.hint;
  }
}

/** Bad flags, bad settings, missing credentials: fix the command line or the environment. */
export class ConfigError extends EtlError {
  readonly kind: string = 'config';
  readonly exitCode = 2;
}

/** The source could not be reached or answered wrongly (network, HTTP status, not a workbook). */
export class SourceError extends EtlError {
  readonly kind: string = 'source';
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
  readonly kind: string = 'data';
  readonly exitCode = 4;
}

/** Upload or verification at the destination failed. */
export class LoadError extends EtlError {
  readonly kind: string = 'load';
  readonly exitCode = 5;
}

/**
 * A pipeline step ran past its timeout (`--step-timeout`, `steps.<step>.timeout`). It exits with the code of
 * the step that ran out of time (extract 3, transform 4, load 5), and the process ends at once: the step's
 * work is abandoned, its temp files removed.
 */
export class StepTimeoutError extends EtlError {
  readonly kind = 'timeout';
  readonly exitCode: number;

  constructor(step: 'extract' | 'transform' | 'load', seconds: number) {
    super(`${step} ran past its timeout of ${seconds} s and was stopped`, { hint: `raise --step-timeout (or steps.${step}.timeout in the config), or find what made it slow with --debug` });
    this.name = 'TimeoutError';
    this.exitCode = { extract: 3, transform: 4, load: 5 }[step];
  }
}

const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);
/** DuckDB reports a full disk in its message only (`IO Error: ... No space left on device`). */
const DISK_FULL_MESSAGE = /no space left on device|disk quota exceeded|file too large/i;

/** A write failed because the disk (or the user's quota) is full: the user's to fix, not a bug. */
export function isDiskFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (typeof code === 'string' && DISK_FULL_CODES.has(code)) || DISK_FULL_MESSAGE.test(errorMessage(error));
}

/** A full disk met while writing `target` (its temp files are removed; what was there before stays). */
export function diskFullError(target: string, cause: unknown): LoadError {
  return new LoadError(`no space left on the device holding ${path.dirname(target)} (writing ${path.basename(target)})`, {
    cause,
    hint: 'free some space or point --data-dir/--out elsewhere, then run again; files already there are kept',
  });
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
