/**
 * BuildKit's Dockerfile shell-word lexer (`frontend/dockerfile/shell/lex.go`): quote removal, `$VAR` and
 * `${VAR…}` expansion, and splitting into words, quirks included, because a Dockerfile must mean here what it
 * means to `docker build`. The conformance data in test/conformance-data/shell-lex pins the behaviour.
 */
import { envFromSlice, type ShellEnv } from './env';
import { PatternError, replaceAll, replaceFirst, trimPrefix, trimSuffix } from './pattern';
import { EOF, isDigit, isLetter, isSpace, RuneReader, runeString } from './runes';

export { envFromSlice, type ShellEnv };

export interface LexOptions {
  /** `\` (the default) or `` ` `` under `# escape=``. */
  escapeToken?: string;
  /** Keep the `'` and `"` characters in the output (quotes still group). */
  rawQuotes?: boolean;
  /** Keep escape characters in the output (they still escape). */
  rawEscapes?: boolean;
  /** Leave `$NAME`, `${NAME}` and `${NAME…}` as written when NAME is unset, instead of expanding. */
  skipUnsetEnv?: boolean;
  /** Treat `'` and `"` as ordinary characters. */
  skipProcessQuotes?: boolean;
}

/** Any lexing or expansion failure; the message is BuildKit's: `failed to process "WORD": REASON`. */
export class ShellExpansionError extends Error {
  /** The word that was being processed, and what was wrong with it. */
  constructor(
    readonly word: string,
    readonly reason: string,
  ) {
    super(`failed to process ${goQuote(word)}: ${reason}`);
    this.name = 'ShellExpansionError';
  }
}

export interface WordResult {
  /** The word after expansion and quote removal, whitespace kept. */
  result: string;
  /** Variable names looked up and found. */
  matches: Set<string>;
  /** Variable names looked up and not found. */
  unmatched: Set<string>;
}

const DOLLAR = 0x24;
const SINGLE_QUOTE = 0x27;
const DOUBLE_QUOTE = 0x22;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const COLON = 0x3a;
const SLASH = 0x2f;
const UNDERSCORE = 0x5f;
const SPECIAL_PARAMS = new Set(Array.from('@*#?-$!0', (c) => c.codePointAt(0) as number));
const MODIFIERS = new Set(Array.from('+-?#%', (c) => c.codePointAt(0) as number));

/** Shell lexer with fixed options; each call is independent, so one instance can be reused freely. */
export class ShellLex {
  private readonly escapeToken: number;
  private readonly opts: Required<Omit<LexOptions, 'escapeToken'>>;

  constructor(opts: LexOptions = {}) {
    const escape = opts.escapeToken ?? '\\';
    if (Array.from(escape).length !== 1) {
      throw new TypeError(`escape token must be one character, got ${JSON.stringify(escape)}`);
    }
    this.escapeToken = escape.codePointAt(0) as number;
    this.opts = {
      rawQuotes: opts.rawQuotes ?? false,
      rawEscapes: opts.rawEscapes ?? false,
      skipUnsetEnv: opts.skipUnsetEnv ?? false,
      skipProcessQuotes: opts.skipProcessQuotes ?? false,
    };
  }

  /** Expand and unquote `word` into one string (BuildKit's `ProcessWord`). */
  processWord(word: string, env: ShellEnv): string {
    return this.process(word, env).result;
  }

  /** Like processWord, and also report which variable names were found and which were not. */
  processWordWithMatches(word: string, env: ShellEnv): WordResult {
    const { result, matches, unmatched } = this.process(word, env);
    return { result, matches, unmatched };
  }

  /**
   * Expand, unquote and split into words (BuildKit's `ProcessWords`). Unquoted whitespace splits, including
   * whitespace that an unquoted `$VAR` expands to; empty words, even `''`, are dropped; `<<` keeps the
   * whitespace after it (`cat << EOF` → `cat`, `<< EOF`) so that heredoc markers survive.
   */
  processWords(word: string, env: ShellEnv): string[] {
    return this.process(word, env).words;
  }

  private process(word: string, env: ShellEnv): WordResult & { words: string[] } {
    const sw = new ShellWord(word, env, this.escapeToken, this.opts);
    try {
      const { result, words } = sw.processStopOn(EOF, this.opts.rawEscapes);
      return { result, words, matches: sw.matches, unmatched: sw.unmatched };
    } catch (err) {
      if (err instanceof LexFailure) throw new ShellExpansionError(word, err.message);
      throw err;
    }
  }
}

/** A failure inside the lexer, before it is tied to the whole word; only ShellLex.process lets it out. */
class LexFailure extends Error {}

/**
 * The most characters one word may expand to. BuildKit has no bound, so 40 lines of `ARG A2=${A1}${A1}` grow to
 * 2^40 and exhaust memory; no exec can take an argument or variable of even 128 KiB (MAX_ARG_STRLEN), so 1 MiB
 * refuses only what could never run.
 */
export const MAX_EXPANDED_WORD = 1 << 20;

/**
 * Accumulates the split words next to the plain result. Characters that came from unquoted input or an
 * unquoted `$` expansion go through addChar (whitespace splits); quoted and escaped text goes in raw.
 */
class WordSplitter {
  private buf = '';
  private readonly words: string[] = [];
  private inWord = false;

  addChar(ch: number): void {
    if (isSpace(ch) && this.inWord) {
      if (this.buf.length !== 0) {
        // BuildKit (moby/buildkit#5817) keeps `<< EOF` together so that a heredoc marker written with a
        // space is still one word; `<<- EOF` is split as usual. The rule (whitespace after a word that ends
        // in `<<` stays in it) is rebuilt from BuildKit's observed results, not from its source.
        if (endsWithHeredocArrow(this.buf)) {
          this.addRawChar(ch);
          return;
        }
        this.words.push(this.buf);
        this.buf = '';
        this.inWord = false;
      }
    } else if (!isSpace(ch)) {
      this.addRawChar(ch);
    }
  }

  addRawChar(ch: number): void {
    this.buf += runeString(ch);
    this.inWord = true;
  }

  addString(s: string): void {
    for (const c of s) this.addChar(c.codePointAt(0) as number);
  }

  addRawString(s: string): void {
    this.buf += s;
    this.inWord = true;
  }

  getWords(): string[] {
    if (this.buf.length > 0) {
      this.words.push(this.buf);
      this.buf = '';
      this.inWord = false;
    }
    return this.words;
  }
}

function endsWithHeredocArrow(buf: string): boolean {
  return buf.replace(/\p{White_Space}+$/u, '').endsWith('<<');
}

/** The state of one ProcessWord* call: the reader over the input and what was looked up. */
class ShellWord {
  readonly matches = new Set<string>();
  readonly unmatched = new Set<string>();
  private readonly reader: RuneReader;
  private rawEscapes: boolean;

  constructor(
    word: string,
    private readonly env: ShellEnv,
    private readonly escapeToken: number,
    private readonly opts: Required<Omit<LexOptions, 'escapeToken'>>,
  ) {
    this.reader = new RuneReader(word);
    this.rawEscapes = opts.rawEscapes;
  }

  /**
   * Read up to `stopChar` (consumed) or the end of input (EOF: read everything). Reaching the end while
   * looking for a stop character is an error. `rawEscapes` applies while this call runs: the words of
   * `#`/`%` patterns and `/` substitutions keep their escapes, so that the pattern can see them.
   */
  processStopOn(stopChar: number, rawEscapes: boolean): { result: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      return this.readUntil(stopChar);
    } finally {
      this.rawEscapes = saved;
    }
  }

  private readUntil(stopChar: number): { result: string; words: string[] } {
    const r = this.reader;
    const words = new WordSplitter();
    let result = '';
    while (r.peek() !== EOF) {
      let ch = r.peek();
      if (stopChar !== EOF && ch === stopChar) {
        r.next();
        return { result, words: words.getWords() };
      }
      if (ch === DOLLAR) {
        const value = this.processDollar();
        if (result.length + value.length > MAX_EXPANDED_WORD) {
          throw new LexFailure(`the expansion is longer than ${MAX_EXPANDED_WORD} characters`);
        }
        result += value;
        words.addString(value);
      } else if (!this.opts.skipProcessQuotes && (ch === SINGLE_QUOTE || ch === DOUBLE_QUOTE)) {
        const value = ch === SINGLE_QUOTE ? this.processSingleQuote() : this.processDoubleQuote();
        result += value;
        words.addRawString(value);
      } else {
        ch = r.next();
        if (ch === this.escapeToken) {
          if (this.rawEscapes) {
            words.addRawChar(ch);
            result += runeString(ch);
          }
          ch = r.next();
          if (ch === EOF) break; // a trailing escape character is dropped
          words.addRawChar(ch);
        } else {
          words.addChar(ch);
        }
        result += runeString(ch);
      }
    }
    if (stopChar !== EOF) {
      throw new LexFailure(`unexpected end of statement while looking for matching ${runeString(stopChar)}`);
    }
    return { result, words: words.getWords() };
  }

  /** `'…'`: everything literal up to the next `'`; nothing escapes inside. */
  private processSingleQuote(): string {
    const r = this.reader;
    let result = '';
    const open = r.next();
    if (this.opts.rawQuotes) result += runeString(open);
    for (;;) {
      const ch = r.next();
      if (ch === EOF)
        throw new LexFailure('unexpected end of statement while looking for matching single-quote');
      if (ch === SINGLE_QUOTE) {
        if (this.opts.rawQuotes) result += runeString(ch);
        return result;
      }
      result += runeString(ch);
    }
  }

  /**
   * `"…"`: `$` expands; the escape character escapes only `"`, `$` and itself and stays before anything
   * else. With rawEscapes an escape before an ordinary character comes out doubled, as in BuildKit.
   */
  private processDoubleQuote(): string {
    const r = this.reader;
    let result = '';
    const open = r.next();
    if (this.opts.rawQuotes) result += runeString(open);
    for (;;) {
      const peek = r.peek();
      if (peek === EOF)
        throw new LexFailure('unexpected end of statement while looking for matching double-quote');
      if (peek === DOUBLE_QUOTE) {
        r.next();
        if (this.opts.rawQuotes) result += runeString(peek);
        return result;
      }
      if (peek === DOLLAR) {
        result += this.processDollar();
        continue;
      }
      let ch = r.next();
      if (ch === this.escapeToken) {
        if (this.rawEscapes) result += runeString(ch);
        const after = r.peek();
        if (after === EOF) continue; // then the missing `"` is reported
        if (after === DOUBLE_QUOTE || after === DOLLAR || after === this.escapeToken) ch = r.next();
      }
      result += runeString(ch);
    }
  }

  /** `$name`, `${name}` and `${name<modifier>…}`, with the reader on the `$`. */
  private processDollar(): string {
    const r = this.reader;
    r.next();
    if (r.peek() !== LBRACE) {
      const name = this.processName();
      if (name === '') return '$';
      const [value, found] = this.getEnv(name);
      if (!found && this.opts.skipUnsetEnv) return '$' + name;
      return value;
    }

    r.next();
    const first = r.peek();
    if (first === EOF) throw new LexFailure("syntax error: missing '}'");
    if (first === LBRACE || first === RBRACE || first === COLON) {
      throw new LexFailure('syntax error: bad substitution');
    }
    const name = this.processName();
    let ch = r.next();
    let chs = runeString(ch);

    if (ch === RBRACE) {
      const [value, set] = this.getEnv(name);
      if (!set && this.opts.skipUnsetEnv) return `\${${name}}`;
      return value;
    }
    if (ch === SLASH) return this.processSubstitution(name);
    if (ch !== COLON && !MODIFIERS.has(ch)) throw unsupportedModifier(chs);

    // `:` makes an empty value count as unset; whatever follows it is the modifier (checked below).
    const nullIsUnset = ch === COLON;
    if (nullIsUnset) {
      ch = r.next();
      chs += runeString(ch);
    }
    const isPattern = ch === 0x23 || ch === 0x25; // # or %
    if (nullIsUnset && isPattern) throw unsupportedModifier(chs);
    const word = this.processWordUntil(RBRACE, isPattern, "syntax error: missing '}'");

    const [value, set] = this.getEnv(name);
    if (this.opts.skipUnsetEnv && !set) return `\${${name}${chs}${word}}`;
    const empty = !set || (nullIsUnset && value === '');
    switch (runeString(ch)) {
      case '-':
        return empty ? word : value;
      case '+':
        return empty ? '' : word;
      case '?':
        if (!set) throw new LexFailure(`${name}: ${word || 'is not allowed to be unset'}`);
        if (empty) throw new LexFailure(`${name}: ${word || 'is not allowed to be empty'}`);
        return value;
      case '#':
      case '%': {
        // A doubled operator (`##`, `%%`) is seen only after expansion, so `${V#$X}` with X=`#a` is greedy.
        const op = runeString(ch);
        const greedy = word.startsWith(op);
        const pattern = greedy ? word.slice(1) : word;
        return withPatternErrors(() =>
          op === '%' ? trimSuffix(pattern, value, greedy) : trimPrefix(pattern, value, greedy),
        );
      }
      default:
        throw unsupportedModifier(chs);
    }
  }

  /** `${name/pattern/replacement}` and `${name//pattern/replacement}`, with the reader after the first `/`. */
  private processSubstitution(name: string): string {
    const r = this.reader;
    const all = r.peek() === SLASH;
    if (all) r.next();
    const pattern = this.processWordUntil(SLASH, true, "syntax error: missing '/' in ${}");
    const replacement = this.processWordUntil(RBRACE, true, "syntax error: missing '}'");
    const [value, set] = this.getEnv(name);
    // BuildKit writes back a single `/` here even for `//`.
    if (this.opts.skipUnsetEnv && !set) return `\${${name}/${pattern}/${replacement}}`;
    return withPatternErrors(() =>
      all ? replaceAll(pattern, value, replacement) : replaceFirst(pattern, value, replacement),
    );
  }

  /** A nested word up to `stop`; any failure that ran into the end of input is reported as `atEnd`. */
  private processWordUntil(stop: number, rawEscapes: boolean, atEnd: string): string {
    try {
      return this.processStopOn(stop, rawEscapes).result;
    } catch (err) {
      if (err instanceof LexFailure && this.reader.peek() === EOF) throw new LexFailure(atEnd);
      throw err;
    }
  }

  /**
   * A variable name: letters, digits and `_`. A leading digit takes all the digits that follow (`$12a` is
   * `$12` then `a`), and a special parameter (`@ * # ? - $ ! 0`) is one character on its own.
   */
  private processName(): string {
    const r = this.reader;
    let name = '';
    while (r.peek() !== EOF) {
      const ch = r.peek();
      if (name === '' && isDigit(ch)) {
        while (r.peek() !== EOF && isDigit(r.peek())) name += runeString(r.next());
        return name;
      }
      if (name === '' && SPECIAL_PARAMS.has(ch)) return runeString(r.next());
      if (!isLetter(ch) && !isDigit(ch) && ch !== UNDERSCORE) break;
      name += runeString(r.next());
    }
    return name;
  }

  private getEnv(name: string): [string, boolean] {
    const value = this.env.get(name);
    if (value !== undefined) {
      this.matches.add(name);
      return [value, true];
    }
    this.unmatched.add(name);
    return ['', false];
  }
}

function unsupportedModifier(chs: string): LexFailure {
  return new LexFailure(`unsupported modifier (${chs}) in substitution`);
}

function withPatternErrors(fn: () => string): string {
  try {
    return fn();
  } catch (err) {
    if (err instanceof PatternError) throw new LexFailure(err.message);
    throw err;
  }
}

/** Go's `%q` for the error message (control characters escaped; other text as is). */
function goQuote(s: string): string {
  const named: Record<string, string> = {
    '"': '\\"',
    '\\': '\\\\',
    '\x07': '\\a',
    '\b': '\\b',
    '\f': '\\f',
    '\n': '\\n',
    '\r': '\\r',
    '\t': '\\t',
    '\v': '\\v',
  };
  let out = '"';
  for (const c of s) {
    const code = c.codePointAt(0) as number;
    if (named[c] !== undefined) out += named[c];
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += c;
  }
  return out + '"';
}
