import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ConfigError } from '../../src/core/errors.js';

/** Each test loads settings.ts afresh: it reads ./.env once per process. */
let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-settings-'));
  await writeFile(path.join(work, '.env'), 'SETTINGS_FROM_FILE=file-value\nSETTINGS_BOTH=file\nSETTINGS_EMPTY=\n');
});
afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  delete process.env.SETTINGS_FROM_FILE;
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function settingsIn(dir: string) {
  vi.spyOn(process, 'cwd').mockReturnValue(dir);
  vi.resetModules();
  return { settings: await import('../../src/core/settings.js'), redact: (await import('../../src/core/redact.js')).redact };
}

describe('settings', () => {
  it('come from the environment first, then from ./.env; an empty value is unset', async () => {
    vi.stubEnv('SETTINGS_BOTH', 'env');
    vi.stubEnv('SETTINGS_BLANK', '');
    const { settings } = await settingsIn(work);
    expect(settings.readSetting('SETTINGS_FROM_FILE')).toBe('file-value');
    expect(settings.readSetting('SETTINGS_BOTH')).toBe('env');
    expect(settings.readSetting('SETTINGS_EMPTY')).toBeUndefined();
    expect(settings.readSetting('SETTINGS_BLANK')).toBeUndefined();
    expect(settings.readSetting('SETTINGS_NOWHERE')).toBeUndefined();
    settings.applyDotEnv();
    expect(process.env.SETTINGS_FROM_FILE).toBe('file-value');
    expect(process.env.SETTINGS_BOTH).toBe('env');
  });

  it('a secret is masked in everything printed once read; a missing one is a usage error saying where to set it', async () => {
    vi.stubEnv('SETTINGS_TOKEN', 'settings-secret-4471');
    const { settings, redact } = await settingsIn(path.join(work, 'elsewhere'));
    expect(settings.readSecret('SETTINGS_TOKEN', 'the demo token')).toBe('settings-secret-4471');
    expect(redact('sent settings-secret-4471 as x')).toBe('sent REDACTED as x');
    let thrown: unknown;
    try {
      settings.readSecret('SETTINGS_FROM_FILE', 'the demo key');
    } catch (error) {
      thrown = error;
    }
    // A fresh module graph: its own ConfigError class, so the name and exit code are what count.
    expect(thrown).toMatchObject({ name: 'ConfigError', exitCode: 2 });
    expect((thrown as ConfigError).message).toBe('SETTINGS_FROM_FILE is not set: it holds the demo key');
    expect((thrown as ConfigError).hint).toBe(`export SETTINGS_FROM_FILE=… or add a line SETTINGS_FROM_FILE=… to ${path.join(work, 'elsewhere', '.env')}; it is never read from a flag`);
  });
});
