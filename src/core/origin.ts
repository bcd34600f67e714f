import { isIP } from 'node:net';

/**
 * Where a credential may go. It belongs to the origin (scheme, host name, port) it was configured for;
 * an address an API answer names (a next-page link, a redirect) is not trusted with it. Cloud metadata
 * and link-local addresses hand out the machine's own credentials: never followed.
 */
const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata.goog', 'metadata', '100.100.100.200', 'fd00:ec2::254']);

/** An absolute http:// or https:// URL: the only kind etl sends a request to. */
export function isHttpUrl(value: string): boolean {
  return URL.canParse(value) && /^https?:$/.test(new URL(value).protocol);
}

/** True for 169.254.0.0/16, fe80::/10 (and IPv4-mapped forms) and the cloud metadata names and addresses. */
export function isMetadataAddress(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  if (METADATA_HOSTS.has(host)) return true;
  if (isIP(host) === 4) return host.startsWith('169.254.');
  if (isIP(host) === 6) {
    if (/^fe[89ab][0-9a-f]:/.test(host)) return true;
    // ::ffff:169.254.x.y, which the URL parser writes ::ffff:a9fe:xxxx
    const mapped = /^::ffff:(?:169\.254\.|a9fe:)/.exec(host);
    return mapped !== null || expandV6(host) === expandV6('fd00:ec2::254');
  }
  return false;
}

function expandV6(host: string): string {
  const [head = '', tail = ''] = host.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = host.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return groups.map((group) => Number.parseInt(group, 16).toString(16)).join(':');
}

/** How messages name an origin etl refused: the origin only (never a path or query an answer made up), and what it is. */
export function describeRefusedOrigin(url: URL): string {
  return `${url.origin}${isMetadataAddress(url) ? ', a link-local or cloud metadata address' : ''}`;
}
