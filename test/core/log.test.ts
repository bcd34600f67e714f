import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, escapeControl, loadSpinner, teeLogger } from '../../src/core/log.js';
import { redact, registerSecret } from '../../src/core/redact.js';

function capture(options: Parameters<typeof createLogger>[0] = {}): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const stream = { write: (text: string) => lines.push(text) } as unknown as NodeJS.WritableStream;
  return { lines, log: createLogger({ interactive: false, ...options, stream }) };
}

/** A logger that shows spinners, on a stream that is not a TTY: ora draws no frames there, and writes each start() as one "- text" line. */
async function spinnerCapture(options: Parameters<typeof createLogger>[0] = {}): Promise<ReturnType<typeof capture>> {
  await loadSpinner();
  return capture({ ...options, interactive: true });
}

describe('redact', () => {
  it.each([
    ['GET https://api.example.com/forecast?locale=3477&token=abc123def', 'GET https://api.example.com/forecast?locale=3477&token=REDACTED'],
    ['PUT https://storage.googleapis.com/upload/storage/v1/b/b/o?uploadType=resumable&upload_id=ADPycdu', 'PUT https://storage.googleapis.com/upload/storage/v1/b/b/o?uploadType=resumable&upload_id=REDACTED'],
    ['https://user:hunter2@host/path', 'https://REDACTED@host/path'],
    ['authorization: Bearer eyJhbGciOi.x.y', 'authorization: REDACTED'],
    ['authorization: Basic dXNlcjpwYXNz', 'authorization: REDACTED'],
    ['{"Authorization":"Token t0k3n-value"}', '{"Authorization":"REDACTED"}'],
    ['https://t0k3n@host/path', 'https://REDACTED@host/path'],
    ['x-api-key: k3y-value', 'x-api-key: REDACTED'],
    ['s3 https://b.s3.amazonaws.com/k?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA123', 's3 https://b.s3.amazonaws.com/k?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED'],
    ['{"api_key":"k-123","private_key":"-----BEGIN"} and ?api_key=k-123', '{"api_key":"REDACTED","private_key":"REDACTED"} and ?api_key=REDACTED'],
    // A JSON "key" is a name (a run's object key template), not a credential; `key=` in a URL is an API key.
    ['{"key":"{name}","bucket":"gs://b/"} GET https://maps.example/api?key=AIzaSy-k', '{"key":"{name}","bucket":"gs://b/"} GET https://maps.example/api?key=REDACTED'],
  ])('%s', (input, expected) => {
    expect(redact(input)).toBe(expected);
  });

  it('masks a registered secret as it is and URL-encoded', () => {
    registerSecret('log-test/p@ss+1');
    expect(redact('key log-test/p@ss+1 sent as ?k=log-test%2Fp%40ss%2B1')).toBe('key REDACTED sent as ?k=REDACTED');
  });

  it('masks a secret of 1-3 characters where it stands alone, not inside a longer word', () => {
    registerSecret('q7#');
    registerSecret('q7#z');
    registerSecret('Zq');
    expect(redact('q7# and q7#z, Zq, ?k=Zq&x, {"k":"Zq"}, %22Zq%22, but not Zqx or aZq')).toBe('REDACTED and REDACTED, REDACTED, ?k=REDACTED&x, {"k":"REDACTED"}, %22REDACTED%22, but not Zqx or aZq');
  });

  it('masks no more than the secret: a key the URL parser would cut or shorten (`?`, `#`, `..`, white space around it) leaves other text alone', () => {
    for (const secret of ['a?bcdef', 'x#yz12', 'k/../ab', '  wxyz']) registerSecret(secret);
    expect(redact('a b ab x y k w wxy abc')).toBe('a b ab x y k w wxy abc');
    const url = new URL('http://h/p');
    url.searchParams.set('t', 'a?bcdef');
    expect(redact(`${url.href} http://h/u/${encodeURIComponent('x#yz12')} [  wxyz] {wxyz}`)).toBe('http://h/p?t=REDACTED http://h/u/REDACTED [REDACTED] {REDACTED}');
  });

  it.each([`k~!'() x`, `"q\\b"`, '%41+&=;#?/@', '<{[|^`$,:*]}>', '~!', `'(`, ' ( '])('masks the registered secret %j in every encoding it may take', (secret) => {
    registerSecret(secret);
    const json = (text: string) => JSON.stringify(text).slice(1, -1);
    const form = (text: string) => new URLSearchParams([['k', text]]).toString().slice(2);
    const inUrl = new URL('http://h/p');
    inUrl.searchParams.set('json', JSON.stringify({ ds: 'x', k: secret }));
    for (const spelling of [secret, json(secret), encodeURIComponent(secret), form(secret), form(json(secret)), encodeURIComponent(json(secret)), json(json(secret)), inUrl.href, new URL(`http://h/u/${secret}/v?t=${secret}`).href]) {
      const masked = redact(`at [${spelling}] end`);
      expect(masked, spelling).toContain('REDACTED');
      expect(masked, spelling).not.toContain(secret.trim() === secret ? secret : secret.trim());
    }
  });
});

describe('createLogger', () => {
  it('writes plain lines, hides debug unless asked, and redacts', () => {
    const { lines, log } = capture();
    log.info('fetched https://x/y?token=secret');
    log.debug('hidden');
    log.warn('careful');
    expect(lines).toEqual(['fetched https://x/y?token=REDACTED\n', 'warn: careful\n']);
  });

  it('writes one JSON object per line with --json', () => {
    const { lines, log } = capture({ json: true, debug: true });
    log.info('first');
    expect(lines.pop()).toMatch(/^\{.*"msg":"first"\}\n$/);
    log.debug('detail', { file: 'a.xls' });
    log.progress('working').done('finished');
    const records = lines.map((line) => JSON.parse(line));
    expect(records.map((r) => [r.level, r.msg])).toEqual([
      ['debug', 'detail'],
      ['debug', 'working'],
      ['debug', 'finished'],
    ]);
    expect(records[0]).toMatchObject({ file: 'a.xls', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
  });

  it('redacts secrets at every level of plain lines, in progress lines and in --debug fields', () => {
    const { lines, log } = capture({ debug: true });
    for (const level of ['debug', 'info', 'warn', 'error'] as const) log[level](`${level} GET https://etl:hunter2@host/p?token=tok-${level}`);
    log.info('request', { url: 'https://host/p?api_key=key-in-fields', headers: { authorization: 'Bearer bearer-in-fields' } });
    log.progress('fetching https://host/p?token=tok-progress').done('fetched https://etl:hunter2@host/p');
    const text = lines.join('');
    for (const secret of ['hunter2', 'tok-', 'key-in-fields', 'bearer-in-fields']) expect(text).not.toContain(secret);
    expect(lines).toHaveLength(7);
    expect(lines[2]).toBe('warn: warn GET https://REDACTED@host/p?token=REDACTED\n');
  });

  it('redacts secrets in --json lines, in the message and in every field, and keeps each line valid JSON', () => {
    const { lines, log } = capture({ json: true, debug: true });
    for (const level of ['debug', 'info', 'warn', 'error'] as const) log[level](`${level} GET https://etl:hunter2@host/p?token=tok-${level}`);
    log.info('request', { url: 'https://host/p?api_key=key-in-fields', api_key: 'bare-key', nested: { authorization: 'Bearer bearer-in-fields' } });
    log.progress('fetching https://host/p?token=tok-progress').done('fetched https://etl:hunter2@host/p');
    const text = lines.join('');
    for (const secret of ['hunter2', 'tok-', 'key-in-fields', 'bare-key', 'bearer-in-fields']) expect(text).not.toContain(secret);
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.map((record) => record.level)).toEqual(['debug', 'info', 'warn', 'error', 'info', 'debug', 'debug']);
    expect(records[2]).toMatchObject({ msg: 'warn GET https://REDACTED@host/p?token=REDACTED' });
    expect(records[4]).toMatchObject({ msg: 'request', url: 'https://host/p?api_key=REDACTED', api_key: 'REDACTED' });
  });

  it('shows fields on plain lines only under --debug', () => {
    const plain = capture();
    plain.log.warn('slow', { seconds: 3 });
    plain.log.info('no fields', {});
    expect(plain.lines).toEqual(['warn: slow\n', 'no fields\n']);
    const debug = capture({ debug: true });
    debug.log.warn('slow', { seconds: 3 });
    debug.log.info('no fields', {});
    expect(debug.lines).toEqual(['warn: slow {"seconds":3}\n', 'no fields\n']);
  });

  it('off a TTY a failed progress says nothing above debug (the error line follows)', () => {
    const { lines, log } = capture({ debug: true });
    log.progress('uploading').fail('2 failed');
    expect(lines).toEqual(['debug: uploading\n', 'debug: 2 failed\n']);
  });

  it('on a terminal a spinner shows progress, redacted, and log lines interrupt it without losing it', async () => {
    const { lines, log } = await spinnerCapture({ debug: true });
    const progress = log.progress('fetching https://host/p?token=tok-start');
    progress.update('fetching page 2 https://host/p?token=tok-update');
    log.warn('a warning mid-way');
    progress.done('fetched https://etl:hunter2@host/p');
    log.info('after it');
    log.progress('second').fail('failed https://host/p?token=tok-fail');
    expect(lines).toEqual([
      '- fetching https://host/p?token=REDACTED\n',
      'warn: a warning mid-way\n',
      '- fetching page 2 https://host/p?token=REDACTED\n',
      'debug: fetched https://REDACTED@host/p\n',
      'after it\n',
      '- second\n',
      'debug: failed https://host/p?token=REDACTED\n',
    ]);
  });

  it('two progresses at once: the one still running comes back after a log line when the other ends', async () => {
    const { lines, log } = await spinnerCapture({ debug: true });
    const outer = log.progress('all editions');
    const inner = log.progress('edition 2024');
    outer.done('outer done');
    log.warn('mid-way');
    inner.done('inner done');
    expect(lines).toEqual(['- all editions\n', '- edition 2024\n', 'debug: outer done\n', '- edition 2024\n', 'warn: mid-way\n', '- edition 2024\n', 'debug: inner done\n']);
  });

  it('keeps quiet under --quiet except for warnings and errors, also with --debug, and shows no spinner', async () => {
    const { lines, log } = capture({ quiet: true });
    log.info('chatter');
    log.progress('work').done('done');
    log.error('broken');
    expect(lines).toEqual(['error: broken\n']);
    const quietDebug = await spinnerCapture({ quiet: true, debug: true });
    quietDebug.log.debug('detail');
    quietDebug.log.progress('work').done('done');
    quietDebug.log.warn('careful');
    expect(quietDebug.lines).toEqual(['warn: careful\n']);
  });
});

describe('where a spinner is shown by default', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });
  // A stream that says it is a terminal; ora, if it drew on it, would need the cursor methods it lacks.
  const terminal = (lines: string[]) => ({ write: (text: string) => lines.push(text), isTTY: true }) as unknown as NodeJS.WritableStream;

  it('on a terminal, unless --json or CI: elsewhere progress is a debug line', async () => {
    await loadSpinner();
    vi.stubEnv('CI', undefined);
    vi.stubEnv('TERM', 'xterm');
    const json: string[] = [];
    createLogger({ stream: terminal(json), json: true, debug: true }).progress('working').done('finished');
    expect(json.map((line) => JSON.parse(line).msg)).toEqual(['working', 'finished']);
    vi.stubEnv('CI', 'true');
    const ci: string[] = [];
    createLogger({ stream: terminal(ci), debug: true }).progress('working').done('finished');
    expect(ci).toEqual(['debug: working\n', 'debug: finished\n']);
    const pipe: string[] = [];
    createLogger({ stream: { write: (text: string) => pipe.push(text) } as unknown as NodeJS.WritableStream, debug: true }).progress('working').done('finished');
    expect(pipe).toEqual(['debug: working\n', 'debug: finished\n']);
  });

  it('a terminal without CI gets the spinner: no start line, only the end (a debug line)', async () => {
    await loadSpinner();
    vi.stubEnv('CI', undefined);
    vi.stubEnv('TERM', 'dumb'); // ora draws nothing on a dumb terminal, and writes its start line instead
    const lines: string[] = [];
    createLogger({ stream: terminal(lines), debug: true }).progress('working').done('finished');
    expect(lines).toEqual(['- working\n', 'debug: finished\n']);
  });
});

describe('text from files in human output', () => {
  it('shows control characters escaped, so a sheet name cannot forge a log line or drive the terminal', () => {
    expect(escapeControl('a\u0001b\u009bc\u2028d')).toBe('a\\x01b\\x9bc\\u2028d');
    const { lines, log } = capture();
    log.warn('skipped sheet "Figures\netl: info: all good\u001b[31m\u2028"');
    expect(lines).toEqual(['warn: skipped sheet "Figures\\netl: info: all good\\x1b[31m\\u2028"\n']);
  });

  it('keeps line breaks only where a result is several lines by design', () => {
    expect(escapeControl('a\nb\r\u0007', true)).toBe('a\nb\\r\\x07');
    expect(escapeControl('tab\there')).toBe('tab\\there');
  });

  it('leaves JSON lines to JSON.stringify, which escapes them already', () => {
    const { lines, log } = capture({ json: true });
    log.warn('sheet "a\nb\u001b"');
    expect(JSON.parse(lines[0]!).msg).toBe('sheet "a\nb\u001b"');
    expect(lines[0]!.trimEnd()).not.toMatch(/[\u0000-\u001f]/);
  });
});

describe('teeLogger', () => {
  it('passes progress updates on to a spinner', async () => {
    const terminal = await spinnerCapture();
    const log = teeLogger(terminal.log, capture().log);
    const progress = log.progress('start');
    progress.update('half');
    log.warn('mid-way');
    progress.done('finished');
    expect(terminal.lines).toEqual(['- start\n', 'warn: mid-way\n', '- half\n']);
  });

  it('sends every line and every progress step to both loggers (the terminal and a --log-file)', () => {
    const human = capture({ debug: true });
    const json = capture({ json: true, debug: true });
    const log = teeLogger(human.log, json.log);
    log.debug('d');
    log.info('i', { n: 1 });
    log.warn('w');
    log.error('e');
    const progress = log.progress('start');
    progress.update('half');
    progress.done('finished');
    log.progress('again').fail('failed');
    expect(human.lines).toEqual(['debug: d\n', 'i {"n":1}\n', 'warn: w\n', 'error: e\n', 'debug: start\n', 'debug: finished\n', 'debug: again\n', 'debug: failed\n']);
    expect(json.lines.map((line) => JSON.parse(line)).map(({ level, msg, n }) => [level, msg, n])).toEqual([
      ['debug', 'd', undefined], ['info', 'i', 1], ['warn', 'w', undefined], ['error', 'e', undefined],
      ['debug', 'start', undefined], ['debug', 'finished', undefined], ['debug', 'again', undefined], ['debug', 'failed', undefined],
    ]);
  });
});
