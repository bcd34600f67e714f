/**
 * Secrets never reach logs or error lines. Everything printed passes through redact(), which masks
 * credentials in URLs (user:pass@, token-like query parameters) and bearer/authorization values.
 */
// upload_id: a GCS resumable-upload URL lets anyone holding it write the object.
const SECRET_NAMES = 'upload_id|token|api[_-]?key|access[_-]?token|client[_-]?secret|secret|signature|sig|password|private[_-]?key|x-amz-[a-z-]+|x-goog-[a-z-]+';
// A bare `key=` in a URL is an API key (Google's APIs); a JSON "key" is a name (the object key template of a
// run's parameters, a merge key), not a credential, and is kept.
const SECRET_PARAM = new RegExp(`([?&](?:${SECRET_NAMES}|key)=)[^&#\\s"']+`, 'gi');
const SECRET_JSON = new RegExp(`("(?:${SECRET_NAMES})"\\s*:\\s*")(?:[^"\\\\]|\\\\.)*`, 'gi');
const URL_USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s:@]+(?::[^/\s@]*)?@/gi;
// The value after any scheme word (Bearer, Basic, Token, …): a Basic value is the user and password.
const AUTH_HEADER = /\b(authorization|bearer|x-api-key)(["']?\s*[:=]\s*["']?)(?:[a-z][\w-]*\s+)?[^\s"',}]+/gi;

const knownSecrets = new Set<string>();
/** Every spelling of every registered secret, longest first; rebuilt when one is registered. */
let spellings: Array<{ text: string; short: RegExp | null }> = [];

/**
 * A secret read from the environment: its value is masked wherever it appears, in every encoding it
 * may take on the way (as is, JSON-escaped, encodeURIComponent, form-encoded with `+`, as the URL parser
 * escapes it, and these combined). A value of 1-3 characters is masked where it stands alone (not inside
 * a longer word), or it would mask that text everywhere.
 */
export function registerSecret(value: string): void {
  if (value === '' || knownSecrets.has(value)) return;
  knownSecrets.add(value);
  const all = new Map<string, boolean>();
  for (const secret of knownSecrets) for (const text of encodings(secret)) if (text !== '') all.set(text, (all.get(text) ?? true) && secret.trim().length < 4);
  spellings = [...all].map(([text, short]) => ({ text, short: short ? standingAlone(text) : null })).sort((a, b) => b.text.length - a.text.length);
}

/** Forgets every registered secret, as a new process starts: the in-process CLI runner of the tests starts each run so. */
export function forgetSecrets(): void {
  knownSecrets.clear();
  spellings = [];
}

function encodings(secret: string): Set<string> {
  const json = (text: string): string => JSON.stringify(text).slice(1, -1);
  const form = (text: string): string => new URLSearchParams([['', text]]).toString().slice(1);
  // As the URL parser escapes it in a query or a path (the setters: a `?` or `#` in the value stays in it).
  const url = new URL('http://h/');
  const query = (text: string): string => ((url.search = `?${text}`), url.search.slice(1));
  const pathPart = (text: string): string => ((url.pathname = `/${text}`), url.pathname.slice(1));
  const forms = new Set<string>();
  // A URL string is trimmed of leading and trailing white space and controls before it is parsed.
  const trimmed = secret.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '');
  for (const base of new Set([secret, json(secret), json(json(secret)), trimmed])) {
    for (const encode of [(t: string) => t, encodeURIComponent, form, query, pathPart, json]) {
      const text = encode(base);
      forms.add(text);
      forms.add(text.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()));
    }
  }
  // A path with `..` in it is shortened by the parser: a spelling shorter than the secret would mask more than it.
  return new Set([...forms].filter((text) => text.length >= trimmed.length && text !== ''));
}

/**
 * A short secret's spelling where it is not part of a longer word: a letter or digit at its edge must not
 * touch another one, unless that one ends a %XX or \x escape (`%22a%22` is `"a"`).
 */
function standingAlone(text: string): RegExp {
  const word = /[A-Za-z0-9]/;
  const before = word.test(text[0]!) ? '(?:(?<![A-Za-z0-9])|(?<=%[0-9A-Fa-f]{2})|(?<=\\\\[a-z]))' : '';
  const after = word.test(text.at(-1)!) ? '(?![A-Za-z0-9])' : '';
  return new RegExp(`${before}${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${after}`, 'g');
}

function maskSecrets(text: string): string {
  for (const { text: form, short } of spellings) {
    if (!text.includes(form)) continue;
    text = short ? text.replace(short, 'REDACTED') : text.split(form).join('REDACTED');
  }
  return text;
}

/**
 * The registered secrets masked in bytes about to be stored (an API answer that echoes the key); null
 * when the bytes hold none. A secret of 1-3 characters is masked where it stands alone, as in messages:
 * that may change a value that happens to be spelled the same, which the manifest then says
 * (`secrets_masked`); a key is kept off the disk first.
 */
export function maskKnownSecrets(bytes: Buffer): Buffer | null {
  if (!spellings.some(({ text }) => bytes.includes(text))) return null;
  const before = bytes.toString('utf8');
  const after = maskSecrets(before);
  return after === before ? null : Buffer.from(after, 'utf8');
}

export function redact(text: string): string {
  return maskSecrets(text)
    .replace(SECRET_PARAM, '$1REDACTED')
    .replace(SECRET_JSON, '$1REDACTED')
    .replace(URL_USERINFO, '$1REDACTED@')
    .replace(AUTH_HEADER, '$1$2REDACTED');
}

/**
 * A URL as it may be stored (manifests, results): no `user:pass@`, secret query values masked. Stored
 * URLs identify a file; the credentials stay on the command line or in the environment.
 */
export function stripCredentials(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return redact(url);
  }
  parsed.username = '';
  parsed.password = '';
  return redact(parsed.href);
}
