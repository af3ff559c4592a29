/**
 * JSON exactly as Go's encoding/json writes it, so a config or manifest we write hashes the same as the one
 * BuildKit would write for the same content. Two things differ from JSON.stringify: key order (Go uses
 * struct field order, and sorts map keys by bytes — JS objects put integer-like keys first), and string
 * escaping (Go escapes <, >, &, U+2028 and U+2029, and writes \b \f as such).
 *
 * Objects are built with `struct()` (fields in the order given, `undefined` dropped: the caller applies
 * omitempty) and `goMap()` (keys sorted as Go sorts them).
 */

export type JsonNode = string | number | boolean | null | readonly JsonNode[] | JsonObject;

export interface JsonObject {
  readonly fields: ReadonlyArray<readonly [string, JsonNode]>;
}

/** An object with fields in declaration order; `undefined` values are left out. */
export function struct(fields: ReadonlyArray<readonly [string, JsonNode | undefined]>): JsonObject {
  return { fields: fields.filter((f): f is readonly [string, JsonNode] => f[1] !== undefined) };
}

/** A Go map: keys sorted by their UTF-8 bytes. */
export function goMap<V>(record: Readonly<Record<string, V>>, value: (v: V) => JsonNode): JsonObject {
  const keys = Object.keys(record).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return { fields: keys.map((k) => [k, value(record[k] as V)] as const) };
}

export function encodeJson(node: JsonNode): string {
  if (node === null) return 'null';
  if (typeof node === 'string') return encodeString(node);
  if (typeof node === 'boolean') return node ? 'true' : 'false';
  if (typeof node === 'number') {
    if (!Number.isFinite(node)) throw new RangeError(`cannot encode ${node} as JSON`);
    return String(node);
  }
  if (isArray(node)) return `[${node.map(encodeJson).join(',')}]`;
  return `{${node.fields.map(([k, v]) => `${encodeString(k)}:${encodeJson(v)}`).join(',')}}`;
}

function isArray(node: JsonNode): node is readonly JsonNode[] {
  return Array.isArray(node);
}

const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

function encodeString(s: string): string {
  // Lone surrogates cannot be UTF-8; Go would have replaced the bad bytes with U+FFFD.
  const wellFormed = s.replace(
    /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    '\ufffd',
  );
  // eslint-disable-next-line no-control-regex
  const escaped = wellFormed.replace(/["\\\x00-\x1f<>&\u2028\u2029]/g, (c) => {
    const short = SHORT_ESCAPES[c];
    if (short !== undefined) return short;
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
  return `"${escaped}"`;
}
