/**
 * A GET as Go's http client makes it, for the two places tsbuild fetches a URL as docker does (`ADD URL`, a tarball
 * build context): gzip the only encoding asked for (undici would also ask for br and deflate and undo them, so the
 * bytes hashed could differ from docker's), and credentials in the URL sent as basic auth, since fetch refuses a URL
 * that carries them. Go sends that header to the first host only; fetch drops it on a cross-origin redirect.
 */

export interface GoHttpRequest {
  /** The URL to fetch, without credentials. */
  request: string;
  /** The URL for messages, with any password replaced as Go's `URL.Redacted` does. */
  shown: string;
  headers: Record<string, string>;
}

export function goHttpRequest(url: URL): GoHttpRequest {
  const parsed = new URL(url.href);
  const shownUrl = new URL(parsed.href);
  if (shownUrl.password !== '') shownUrl.password = 'xxxxx';
  const headers: Record<string, string> = { 'accept-encoding': 'gzip' };
  if (parsed.username !== '' || parsed.password !== '') {
    const user = decodeURIComponent(parsed.username);
    const pass = decodeURIComponent(parsed.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    parsed.username = '';
    parsed.password = '';
  }
  return { request: parsed.href, shown: shownUrl.href, headers };
}
