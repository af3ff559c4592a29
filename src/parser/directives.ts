import type { Directive } from './ast';
import { decodeLossless } from './go-text';

/**
 * Parser directives (`# syntax=…`, `# escape=…`, `# check=…`): only at the very top, each at most once. The first
 * line that is not a known directive ends the section for good.
 */

const KNOWN = new Set(['syntax', 'escape', 'check']);
// Go's `\s` is ASCII [\t\n\f\r ] and its `.` is anything but `\n`; JavaScript's differ, so they are spelled out.
const GO_S = '[\\t\\n\\f\\r ]';
const directiveRegex = (comment: string): RegExp =>
  new RegExp(`^${comment}${GO_S}*([a-zA-Z][a-zA-Z0-9]*)${GO_S}*=${GO_S}*([^\\n]+?)${GO_S}*$`);
const HASH_DIRECTIVE = directiveRegex('#');
const SLASH_DIRECTIVE = directiveRegex('//');

export class DirectiveError extends Error {}

export class DirectiveParser {
  private done = false;
  private readonly seen = new Set<string>();
  readonly directives: Directive[] = [];

  constructor(private readonly pattern: RegExp = HASH_DIRECTIVE) {}

  isDone(): boolean {
    return this.done;
  }

  /** Looks at one line (1-based `line`); returns the directive it holds, if the directive section is still open. */
  parseLine(text: string, line: number): Directive | undefined {
    if (this.done) return undefined;
    const match = this.pattern.exec(text);
    const name = match?.[1].toLowerCase();
    if (!match || name === undefined || !KNOWN.has(name)) {
      this.done = true;
      return undefined;
    }
    if (this.seen.has(name)) throw new DirectiveError(`only one ${name} parser directive can be used`);
    this.seen.add(name);
    const directive = { name, value: match[2], line };
    this.directives.push(directive);
    return directive;
  }
}

export function validateEscapeToken(value: string): string {
  if (value !== '`' && value !== '\\') {
    throw new DirectiveError(`invalid escape token '${value}' does not match \` or \\`);
  }
  return value;
}

export interface DetectedDirective {
  /** The value up to the first space (`docker/dockerfile:1` of `docker/dockerfile:1 // opts`). */
  ref: string;
  /** The whole value. */
  cmdline: string;
  line: number;
}

/**
 * Finds a directive without parsing the file, as BuildKit's `DetectSyntax` / `ParseDirective` do: a leading BOM and
 * `#!` line are skipped; with `anyFormat`, `//key=…` comment lines and a whole-file JSON object also count.
 */
export function detectDirective(
  key: string,
  data: Uint8Array,
  anyFormat: boolean,
): DetectedDirective | undefined {
  let text = decodeLossless(data);
  if (text.startsWith('\ufeff')) text = text.slice(1);
  let firstLine = 0;
  const nl = text.indexOf('\n');
  if ((nl < 0 ? text : text.slice(0, nl)).startsWith('#!')) {
    text = nl < 0 ? '' : text.slice(nl + 1);
    firstLine = 1;
  }
  const fromComments = (pattern: RegExp): DetectedDirective | undefined => {
    const parser = new DirectiveParser(pattern);
    const lines = text.split('\n');
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    for (let i = 0; i < lines.length && !parser.isDone(); i++) {
      try {
        parser.parseLine(lines[i].replace(/\r$/, ''), firstLine + i + 1);
      } catch {
        break; // a repeated directive: BuildKit keeps what it found before it
      }
    }
    const hit = parser.directives.find((d) => d.name === key);
    return hit && { ref: hit.value.split(' ')[0], cmdline: hit.value, line: hit.line };
  };
  const hashed = fromComments(HASH_DIRECTIVE);
  if (hashed || !anyFormat) return hashed;
  const slashed = fromComments(SLASH_DIRECTIVE);
  if (slashed) return slashed;
  try {
    const json: unknown = JSON.parse(text);
    if (json !== null && typeof json === 'object' && !Array.isArray(json)) {
      const value = (json as Record<string, unknown>)[key];
      if (typeof value === 'string') return { ref: value, cmdline: value, line: firstLine };
    }
  } catch {
    // not a JSON directive file
  }
  return undefined;
}
