/**
 * Translate a Go (RE2, `regexp.Compile` = Perl flags) regular expression into an equivalent JavaScript RegExp.
 *
 * patternmatcher turns each `.dockerignore` pattern into a Go regexp by copying most pattern characters straight
 * through, so the meaning of `[…]`, `\d`, `\pL`, `[[:alpha:]]`, `^` and friends inside a pattern is RE2's,
 * and so is the set of patterns that fail to compile (`[Local-Only]` has the reversed range `l-O`). JS regexps
 * differ in every one of those corners (`.` also stops at `\r`, `\s` is Unicode, POSIX classes do not exist,
 * reversed ranges and `^*` are rejected differently), so the Go syntax is parsed here and emitted as explicit
 * code point sets. Only what patternmatcher can produce must work; the rest of RE2 (flags, `{n,m}`, `|`,
 * unescaped `+`) never reaches this parser because patternmatcher escapes those characters.
 */

export class GoRegexpError extends Error {}

type Range = [number, number];
const MAX_RUNE = 0x10ffff;

// RE2's Perl classes are ASCII-only.
const PERL_CLASSES: Record<string, Range[]> = {
  d: [[0x30, 0x39]],
  s: [
    [0x09, 0x0a],
    [0x0c, 0x0d],
    [0x20, 0x20],
  ],
  w: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x5f, 0x5f],
    [0x61, 0x7a],
  ],
};

const POSIX_CLASSES: Record<string, Range[]> = {
  alnum: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  alpha: [
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  ascii: [[0x00, 0x7f]],
  blank: [
    [0x09, 0x09],
    [0x20, 0x20],
  ],
  cntrl: [
    [0x00, 0x1f],
    [0x7f, 0x7f],
  ],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [
    [0x21, 0x2f],
    [0x3a, 0x40],
    [0x5b, 0x60],
    [0x7b, 0x7e],
  ],
  space: [
    [0x09, 0x0d],
    [0x20, 0x20],
  ],
  upper: [[0x41, 0x5a]],
  word: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x5f, 0x5f],
    [0x61, 0x7a],
  ],
  xdigit: [
    [0x30, 0x39],
    [0x41, 0x46],
    [0x61, 0x66],
  ],
};

/**
 * `\pX` with a one-letter name (the only form patternmatcher can emit, since it escapes `{`): the JS class
 * items for `\pX` and for `\PX`. Go's `C` is Cc|Cf|Co|Cs; JS's `\p{C}` also includes unassigned code points.
 */
const UNICODE_CATEGORIES: Record<string, { pos: string; neg: string }> = {
  C: { pos: '\\p{Cc}\\p{Cf}\\p{Co}\\p{Cs}', neg: '\\P{C}\\p{Cn}' },
  L: { pos: '\\p{L}', neg: '\\P{L}' },
  M: { pos: '\\p{M}', neg: '\\P{M}' },
  N: { pos: '\\p{N}', neg: '\\P{N}' },
  P: { pos: '\\p{P}', neg: '\\P{P}' },
  S: { pos: '\\p{S}', neg: '\\P{S}' },
  Z: { pos: '\\p{Z}', neg: '\\P{Z}' },
};

function cp(c: number): string {
  return `\\u{${c.toString(16)}}`;
}

function rangesToClassItems(ranges: readonly Range[]): string {
  return ranges.map(([lo, hi]) => (lo === hi ? cp(lo) : `${cp(lo)}-${cp(hi)}`)).join('');
}

function complement(ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= MAX_RUNE) out.push([next, MAX_RUNE]);
  return out;
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

interface Frame {
  /** Alternatives finished so far in this group. */
  branches: string[];
  /** Atoms of the current alternative, each a self-contained JS regexp fragment. */
  atoms: string[];
  /** The previous token was a repetition operator (RE2 rejects `a**`). */
  lastRepeat: boolean;
}

class Parser {
  private readonly s: number[];
  private i = 0;

  constructor(src: string) {
    this.s = Array.from(src, (ch) => ch.codePointAt(0) as number);
  }

  private peek(offset = 0): number | undefined {
    return this.s[this.i + offset];
  }

  private fail(what: string): never {
    throw new GoRegexpError(what);
  }

  parse(): string {
    const stack: Frame[] = [{ branches: [], atoms: [], lastRepeat: false }];
    const top = (): Frame => stack[stack.length - 1];
    const push = (atom: string): void => {
      top().atoms.push(atom);
      top().lastRepeat = false;
    };
    while (this.i < this.s.length) {
      const c = this.s[this.i];
      switch (c) {
        case 0x28 /* ( */:
          if (this.peek(1) === 0x3f /* ? */) this.fail('flags and named groups are not supported');
          this.i++;
          stack.push({ branches: [], atoms: [], lastRepeat: false });
          break;
        case 0x29 /* ) */: {
          if (stack.length === 1) this.fail('unexpected )');
          this.i++;
          const f = stack.pop() as Frame;
          push(`(?:${[...f.branches, f.atoms.join('')].join('|')})`);
          break;
        }
        case 0x7c /* | */: {
          this.i++;
          const f = top();
          f.branches.push(f.atoms.join(''));
          f.atoms = [];
          f.lastRepeat = false;
          break;
        }
        case 0x2a /* * */:
        case 0x2b /* + */:
        case 0x3f /* ? */: {
          this.i++;
          let op = String.fromCodePoint(c);
          if (this.peek() === 0x3f) {
            this.i++;
            op += '?';
          }
          const f = top();
          if (f.lastRepeat) this.fail('invalid nested repetition operator');
          const operand = f.atoms.pop();
          if (operand === undefined) this.fail('missing argument to repetition operator');
          // Wrapping keeps JS from rejecting a quantified assertion (`^*` is valid RE2).
          f.atoms.push(`(?:${operand})${op}`);
          f.lastRepeat = true;
          break;
        }
        case 0x5e /* ^ */:
          this.i++;
          push('^'); // begin of text (RE2 OneLine; JS without the m flag)
          break;
        case 0x24 /* $ */:
          this.i++;
          push('$'); // end of text
          break;
        case 0x2e /* . */:
          this.i++;
          push('[^\\n]'); // RE2's dot excludes only \n; JS's also excludes \r, U+2028, U+2029
          break;
        case 0x5b /* [ */:
          push(this.parseClass());
          break;
        case 0x5c /* \ */:
          push(this.parseTopEscape());
          break;
        default:
          this.i++;
          push(cp(c));
      }
    }
    if (stack.length !== 1) this.fail('missing closing )');
    const f = stack[0];
    return [...f.branches, f.atoms.join('')].join('|');
  }

  /** A backslash sequence outside a class. */
  private parseTopEscape(): string {
    const next = this.peek(1);
    switch (next) {
      case 0x41 /* A */:
        this.i += 2;
        return '^';
      case 0x7a /* z */:
        this.i += 2;
        return '$';
      case 0x62 /* b */:
        this.i += 2;
        return '\\b'; // ASCII word boundary in both engines (no i flag)
      case 0x42 /* B */:
        this.i += 2;
        return '\\B';
      case 0x43 /* C */:
        this.fail('invalid escape sequence: \\C');
        break;
      case 0x51 /* Q */: {
        // \Q...\E: everything up to \E (or the end) is literal.
        this.i += 2;
        let lit = '';
        while (this.i < this.s.length && !(this.s[this.i] === 0x5c && this.peek(1) === 0x45)) {
          lit += cp(this.s[this.i++]);
        }
        if (this.i < this.s.length) this.i += 2;
        return lit === '' ? '(?:)' : `(?:${lit})`;
      }
    }
    const cls = this.parseClassEscape();
    if (cls !== null) return `[${cls}]`;
    return cp(this.parseEscape());
  }

  /** `\pX`, `\PX`, `\d` … as class items, or null when the escape is a single character. */
  private parseClassEscape(): string | null {
    const next = this.peek(1);
    if (next === 0x70 /* p */ || next === 0x50 /* P */) {
      const name = this.peek(2);
      const cat = name === undefined ? undefined : UNICODE_CATEGORIES[String.fromCodePoint(name)];
      if (!cat) this.fail('invalid character class range');
      this.i += 3;
      return next === 0x70 ? cat.pos : cat.neg;
    }
    if (next === undefined) return null;
    const letter = String.fromCodePoint(next);
    const perl = PERL_CLASSES[letter.toLowerCase()];
    if (perl && /[dswDSW]/.test(letter)) {
      this.i += 2;
      return rangesToClassItems(letter === letter.toLowerCase() ? perl : complement(perl));
    }
    return null;
  }

  /** RE2's parseEscape: one escaped character (octal, hex, C escapes, or escaped punctuation). */
  private parseEscape(): number {
    this.i++; // the backslash
    const c = this.peek();
    if (c === undefined) this.fail('trailing backslash at end of expression');
    this.i++;
    if (c < 0x80 && !isAlnum(c)) return c;
    const isOct = (d: number | undefined): d is number => d !== undefined && d >= 0x30 && d <= 0x37;
    // \1-\7 alone would be a backreference (unsupported); followed by an octal digit it is octal.
    if ((c >= 0x31 && c <= 0x37 && isOct(this.peek())) || c === 0x30) {
      let r = c - 0x30;
      for (let k = 1; k < 3 && isOct(this.peek()); k++) r = r * 8 + ((this.s[this.i++] as number) - 0x30);
      return r;
    }
    if (c === 0x78 /* x */) {
      const a = this.peek();
      if (a === 0x7b /* { */) {
        this.i++;
        let r = 0;
        let n = 0;
        for (;;) {
          const d = this.s[this.i++];
          if (d === undefined) this.fail('invalid escape sequence');
          if (d === 0x7d /* } */) break;
          const v = hexVal(d);
          if (v < 0) this.fail('invalid escape sequence');
          r = r * 16 + v;
          if (r > MAX_RUNE) this.fail('invalid escape sequence');
          n++;
        }
        if (n === 0) this.fail('invalid escape sequence');
        return r;
      }
      const x = a === undefined ? -1 : hexVal(a);
      const b = this.peek(1);
      const y = b === undefined ? -1 : hexVal(b);
      if (x < 0 || y < 0) this.fail('invalid escape sequence');
      this.i += 2;
      return x * 16 + y;
    }
    const simple: Record<number, number> = { 0x61: 7, 0x66: 12, 0x6e: 10, 0x72: 13, 0x74: 9, 0x76: 11 };
    const v = simple[c];
    if (v === undefined) this.fail(`invalid escape sequence: \\${String.fromCodePoint(c)}`);
    return v;
  }

  /** `[...]`, following RE2's parseClass (with Perl flags, so `-` is fine anywhere). */
  private parseClass(): string {
    this.i++; // [
    let negated = false;
    if (this.peek() === 0x5e /* ^ */) {
      negated = true;
      this.i++;
    }
    const items: string[] = [];
    let first = true; // a `]` right after `[` or `[^` is a literal
    for (;;) {
      const c = this.peek();
      if (c === undefined) this.fail('missing closing ]');
      if (c === 0x5d /* ] */ && !first) break;
      first = false;
      if (c === 0x5b /* [ */ && this.peek(1) === 0x3a /* : */) {
        const named = this.parseNamedClass();
        if (named !== null) {
          items.push(named);
          continue;
        }
      }
      if (c === 0x5c) {
        const esc = this.parseClassEscape();
        if (esc !== null) {
          items.push(esc);
          continue;
        }
      }
      const lo = this.parseClassChar();
      let hi = lo;
      // `a-` before the closing `]` means the two characters `a` and `-`.
      if (this.peek() === 0x2d /* - */ && this.peek(1) !== undefined && this.peek(1) !== 0x5d) {
        this.i++;
        hi = this.parseClassChar();
        if (hi < lo) this.fail('invalid character class range');
      }
      items.push(lo === hi ? cp(lo) : `${cp(lo)}-${cp(hi)}`);
    }
    this.i++; // ]
    return `[${negated ? '^' : ''}${items.join('')}]`;
  }

  private parseClassChar(): number {
    const c = this.peek();
    if (c === undefined) this.fail('missing closing ]');
    if (c === 0x5c) return this.parseEscape();
    this.i++;
    return c;
  }

  /**
   * `[:alpha:]` and `[:^alpha:]`. Like RE2, the closing `:]` is searched in the whole rest of the expression,
   * and a name that is not a POSIX class is an error rather than literal text.
   */
  private parseNamedClass(): string | null {
    const rest = this.s
      .slice(this.i)
      .map((c) => String.fromCodePoint(c))
      .join('');
    const end = rest.indexOf(':]', 2);
    if (end < 0) return null;
    const name = rest.slice(0, end + 2);
    const inner = name.slice(2, -2);
    const neg = inner.startsWith('^');
    const ranges = POSIX_CLASSES[neg ? inner.slice(1) : inner];
    if (!ranges) this.fail(`invalid character class range: ${name}`);
    this.i += Array.from(name).length;
    return rangesToClassItems(neg ? complement(ranges) : ranges);
  }
}

/** Compile a Go regexp source into a JS RegExp with the same meaning; throws `GoRegexpError` where Go would. */
export function compileGoRegexp(src: string): RegExp {
  const js = new Parser(src).parse();
  try {
    return new RegExp(js, 'u');
  } catch (e) {
    // Our output is always valid JS; reaching this is a bug in the translation, not the user's pattern.
    throw new Error(`internal: cannot compile translated regexp ${js} for ${src}: ${(e as Error).message}`);
  }
}
