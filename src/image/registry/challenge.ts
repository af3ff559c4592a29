/**
 * `WWW-Authenticate` challenges (RFC 7235): `Bearer realm="https://auth/token",service="reg",scope="…"`,
 * `Basic realm="x"`. One header may carry several challenges separated by commas, and parameter values may
 * be quoted strings with backslash escapes, so this is a small tokenizer rather than a split on commas.
 */

export interface Challenge {
  /** Lower-cased: `basic`, `bearer`. */
  scheme: string;
  /** Parameter names lower-cased; values unquoted. */
  params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;

export function parseChallenges(headers: readonly string[]): Challenge[] {
  const out: Challenge[] = [];
  for (const h of headers) out.push(...parseHeader(h));
  return out;
}

function parseHeader(header: string): Challenge[] {
  const out: Challenge[] = [];
  let rest = header;
  let current: Challenge | undefined;
  const skip = (re: RegExp): void => {
    rest = rest.replace(re, '');
  };
  for (;;) {
    skip(/^[\s,]+/);
    if (rest === '') break;
    const token = TOKEN.exec(rest);
    if (token === null) break; // garbage: keep what parsed so far
    const name = token[0];
    rest = rest.slice(name.length);
    skip(/^\s+/);
    if (rest.startsWith('=') && current !== undefined) {
      rest = rest.slice(1);
      skip(/^\s+/);
      current.params[name.toLowerCase()] = readValue();
      continue;
    }
    // A token not followed by `=` starts a new challenge (a token68 credential after it is ignored).
    current = { scheme: name.toLowerCase(), params: {} };
    out.push(current);
  }
  return out;

  function readValue(): string {
    if (!rest.startsWith('"')) {
      const m = /^[^,\s]*/.exec(rest) as RegExpExecArray;
      rest = rest.slice(m[0].length);
      return m[0];
    }
    let value = '';
    let i = 1;
    for (; i < rest.length; i++) {
      const c = rest[i] as string;
      if (c === '\\' && i + 1 < rest.length) value += rest[++i];
      else if (c === '"') break;
      else value += c;
    }
    rest = rest.slice(i + 1);
    return value;
  }
}
