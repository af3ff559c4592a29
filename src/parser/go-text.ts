/**
 * Go string semantics that BuildKit's parser relies on, reproduced for JavaScript strings.
 *
 * Go strings are byte strings that may hold invalid UTF-8; BuildKit dumps such bytes as `\xNN`. To keep them
 * through parsing, input bytes are decoded "losslessly": every byte that is not part of a valid UTF-8 sequence
 * becomes a lone surrogate U+DC80..U+DCFF (Python's surrogateescape), which no valid input can produce.
 */

const ESCAPED_BYTE_BASE = 0xdc00;

/** Decodes UTF-8 as Go's `utf8.DecodeRune` does, mapping each invalid byte to U+DC80+byte. */
export function decodeLossless(bytes: Uint8Array): string {
  const out: string[] = [];
  let chunk = '';
  let i = 0;
  while (i < bytes.length) {
    const b0 = bytes[i];
    if (b0 < 0x80) {
      chunk += String.fromCharCode(b0);
      i += 1;
    } else {
      const [cp, width] = decodeMultiByte(bytes, i);
      chunk += cp < 0 ? String.fromCharCode(ESCAPED_BYTE_BASE + b0) : String.fromCodePoint(cp);
      i += cp < 0 ? 1 : width;
    }
    if (chunk.length > 8192) {
      out.push(chunk);
      chunk = '';
    }
  }
  out.push(chunk);
  return out.join('');
}

/** One multi-byte UTF-8 sequence at `i`: [codePoint, width], or [-1, 1] when it is invalid (Go's rules). */
function decodeMultiByte(bytes: Uint8Array, i: number): [number, number] {
  const b0 = bytes[i];
  const cont = (k: number, lo = 0x80, hi = 0xbf): number => {
    const b = bytes[i + k];
    return b !== undefined && b >= lo && b <= hi ? b & 0x3f : -1;
  };
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    const c1 = cont(1);
    return c1 < 0 ? [-1, 1] : [((b0 & 0x1f) << 6) | c1, 2];
  }
  if (b0 >= 0xe0 && b0 <= 0xef) {
    // E0 needs A0..BF (no overlongs); ED needs 80..9F (no surrogates).
    const c1 = cont(1, b0 === 0xe0 ? 0xa0 : 0x80, b0 === 0xed ? 0x9f : 0xbf);
    const c2 = c1 < 0 ? -1 : cont(2);
    return c2 < 0 ? [-1, 1] : [((b0 & 0x0f) << 12) | (c1 << 6) | c2, 3];
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const c1 = cont(1, b0 === 0xf0 ? 0x90 : 0x80, b0 === 0xf4 ? 0x8f : 0xbf);
    const c2 = c1 < 0 ? -1 : cont(2);
    const c3 = c2 < 0 ? -1 : cont(3);
    return c3 < 0 ? [-1, 1] : [((b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3, 4];
  }
  return [-1, 1];
}

/** The inverse of `decodeLossless`: escaped bytes go back to the raw bytes they came from. */
export function encodeLossless(text: string): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isEscapedByte(c)) {
      if (i > start) parts.push(Buffer.from(text.slice(start, i), 'utf8'));
      parts.push(Buffer.of(c - ESCAPED_BYTE_BASE));
      start = i + 1;
    }
  }
  if (start === 0) return Buffer.from(text, 'utf8');
  if (start < text.length) parts.push(Buffer.from(text.slice(start), 'utf8'));
  return Buffer.concat(parts);
}

function isEscapedByte(unit: number): boolean {
  return unit >= 0xdc80 && unit <= 0xdcff;
}

/** Go's `unicode.IsSpace`. JavaScript's `\s` differs: it has U+FEFF and lacks U+0085. */
export function isGoSpace(cp: number): boolean {
  if (cp <= 0xff) return cp === 0x20 || (cp >= 0x09 && cp <= 0x0d) || cp === 0x85 || cp === 0xa0;
  return (
    cp === 0x1680 ||
    (cp >= 0x2000 && cp <= 0x200a) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    cp === 0x202f ||
    cp === 0x205f ||
    cp === 0x3000
  );
}

/** Go's `strings.TrimLeftFunc(s, unicode.IsSpace)`. */
export function goTrimLeft(s: string): string {
  let i = 0;
  while (i < s.length) {
    const cp = s.codePointAt(i) as number;
    if (!isGoSpace(cp)) break;
    i += cp > 0xffff ? 2 : 1;
  }
  return s.slice(i);
}

/** Go's `strings.TrimSpace`. */
export function goTrimSpace(s: string): string {
  let end = s.length;
  while (end > 0) {
    const unit = s.charCodeAt(end - 1);
    // Every Go space is in the BMP, so a trailing low surrogate is never a space.
    if (!isGoSpace(unit)) break;
    end -= 1;
  }
  return goTrimLeft(s.slice(0, end));
}

/** Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space. */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

function isGoPrint(ch: string): boolean {
  return ch === ' ' || PRINTABLE.test(ch);
}

const SHORT_ESCAPES: Record<number, string> = {
  0x07: '\\a',
  0x08: '\\b',
  0x0c: '\\f',
  0x0a: '\\n',
  0x0d: '\\r',
  0x09: '\\t',
  0x0b: '\\v',
};

/** Go's `strconv.Quote`, applied to a losslessly decoded string. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if (ch.length === 1 && isEscapedByte(cp)) {
      out += `\\x${(cp - ESCAPED_BYTE_BASE).toString(16).padStart(2, '0')}`;
    } else if (ch === '"' || ch === '\\') {
      out += `\\${ch}`;
    } else if (cp < 0x80 ? cp >= 0x20 && cp < 0x7f : isGoPrint(ch)) {
      out += ch;
    } else if (SHORT_ESCAPES[cp] !== undefined) {
      out += SHORT_ESCAPES[cp];
    } else if (cp < 0x20 || cp === 0x7f) {
      out += `\\x${cp.toString(16).padStart(2, '0')}`;
    } else if (ch.length === 1 && cp >= 0xd800 && cp <= 0xdfff) {
      // A lone surrogate that is not an escaped byte cannot come from decoded input; Go would print U+FFFD.
      out += '\\ufffd';
    } else if (cp < 0x10000) {
      out += `\\u${cp.toString(16).padStart(4, '0')}`;
    } else {
      out += `\\U${cp.toString(16).padStart(8, '0')}`;
    }
  }
  return `${out}"`;
}
