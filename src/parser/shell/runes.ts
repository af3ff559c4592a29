/**
 * Go's view of text, as BuildKit's lexer sees it: strings are walked rune by rune (code points, not UTF-16
 * units), and the character classes are those of Go's `unicode` package. Kept apart so that the lexer and the
 * pattern matcher agree on both.
 */

/** What `text/scanner` returns at the end of its input. */
export const EOF = -1;

/** The byte-order mark that `text/scanner` silently drops when it is the very first rune of its input. */
export const BOM = 0xfeff;

const SPACE = /^\p{White_Space}$/u;
const LETTER = /^\p{L}$/u;
const DIGIT = /^\p{Nd}$/u;

/** The code points of `text`, in order (Go's `[]rune(s)`). */
export function toRunes(text: string): number[] {
  const runes: number[] = [];
  for (const ch of text) runes.push(ch.codePointAt(0) as number);
  return runes;
}

/** Go's `string(r)`: an out-of-range rune such as EOF becomes U+FFFD. */
export function runeString(r: number): string {
  return r < 0 || r > 0x10ffff ? '\ufffd' : String.fromCodePoint(r);
}

// The ASCII fast paths matter: these run once per input character.

/** Go's `unicode.IsSpace`: the Unicode White_Space property (includes U+0085 and U+00A0, not U+FEFF). */
export function isSpace(r: number): boolean {
  if (r < 0x80) return r === 0x20 || (r >= 0x09 && r <= 0x0d);
  return r >= 0 && SPACE.test(String.fromCodePoint(r));
}

/** Go's `unicode.IsLetter`: general category L. */
export function isLetter(r: number): boolean {
  if (r < 0x80) return (r >= 0x41 && r <= 0x5a) || (r >= 0x61 && r <= 0x7a);
  return r <= 0x10ffff && LETTER.test(String.fromCodePoint(r));
}

/** Go's `unicode.IsDigit`: general category Nd (so Arabic-Indic and other decimal digits count too). */
export function isDigit(r: number): boolean {
  if (r < 0x80) return r >= 0x30 && r <= 0x39;
  return r <= 0x10ffff && DIGIT.test(String.fromCodePoint(r));
}

/**
 * A reader over the runes of a string with Go `text/scanner` semantics for `Peek`/`Next` (no tokenising):
 * EOF at the end, and a leading byte-order mark skipped.
 */
export class RuneReader {
  private readonly runes: number[];
  private pos: number;

  constructor(text: string) {
    this.runes = toRunes(text);
    this.pos = this.runes[0] === BOM ? 1 : 0;
  }

  peek(): number {
    return this.pos < this.runes.length ? this.runes[this.pos] : EOF;
  }

  next(): number {
    const r = this.peek();
    if (r !== EOF) this.pos++;
    return r;
  }
}
