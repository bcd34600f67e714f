/**
 * Secrets never reach logs or error lines. Everything printed passes through redact(), which masks
 * credentials in URLs (user:pass@, token-like query parameters) and bearer/authorization values.
 */
// upload_id: a GCS resumable-upload URL lets anyone holding it write the object.
const SECRET_NAMES = 'upload_id|token|api[_-]?key|access[_-]?token|client[_-]?secret|secret|signature|sig|password|private[_-]?key|x-amz-[a-z-]+|x-goog-[a-z-]+';
// A bare `key=` in a URL is an API key (Google's APIs); a JSON "key" is a name (the object key template of a
// run's parameters, a merge key), not a credential, and is kept.
const SECRET_PARAM = new RegExp(`([?&](?:${SECRET_NAMES}|key)=)[^&#\\s"']+`, 'gi');
const SECRET_JSON = new RegExp(`("(?:${SECRET_NAMES})"\\s*:\\s*")[^"]*`, 'gi');
const URL_USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s:@]+(?::[^/\s@]*)?@/gi;
// The value after any scheme word (Bearer, Basic, Token, …): a Basic value is the user and password.
const AUTH_HEADER = /\b(authorization|bearer|x-api-key)(["']?\s*[:=]\s*["']?)(?:[a-z][\w-]*\s+)?[^\s"',}]+/gi;

const knownSecrets = new Set<string>();

/** A secret read from the environment: its value is masked wherever it appears, whatever surrounds it. */
export function registerSecret(value: string): void {
  if (value.length >= 4) knownSecrets.add(value);
}

/** The registered secrets' values (as is and URL-encoded) masked; null when the bytes hold none. */
export function maskKnownSecrets(bytes: Buffer): Buffer | null {
  const forms = [...knownSecrets].flatMap((secret) => [secret, encodeURIComponent(secret)]);
  if (!forms.some((form) => bytes.includes(form))) return null;
  let text = bytes.toString('utf8');
  for (const form of forms) text = text.split(form).join('REDACTED');
  return Buffer.from(text, 'utf8');
}

export function redact(text: string): string {
  for (const secret of knownSecrets) text = text.split(secret).join('REDACTED').split(encodeURIComponent(secret)).join('REDACTED');
  return text
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
