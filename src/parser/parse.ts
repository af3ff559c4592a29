import type { Dockerfile, Heredoc, Instruction, ParseWarning } from './ast';
import { DirectiveError, DirectiveParser, validateEscapeToken } from './directives';
import { DockerfileSyntaxError, LineParseError } from './errors';
import { goTrimLeft, goTrimSpace } from './go-text';
import { HEREDOC_INSTRUCTIONS, HEREDOC_WRAPPERS, heredocsFromLine } from './heredoc';
import {
  parseHealthConfig,
  parseMaybeJson,
  parseMaybeJsonToList,
  parseNameOrNameVal,
  parseNameVal,
  parseString,
  parseWhitespaceDelimited,
  type ParsedArgs,
} from './line-parsers';
import { LineScanner, MAX_LINE_BYTES } from './scanner';
import { splitCommand } from './split-command';

export interface ParseOptions {
  /** The name used in error messages, e.g. `Dockerfile` or `build/app.Dockerfile`. */
  fileName?: string;
}

/**
 * Parses a Dockerfile exactly as BuildKit's `parser.Parse` does: directives, comments, continuations with the
 * current escape character, heredoc bodies, and the per-instruction argument rules. Throws DockerfileSyntaxError.
 */
export function parseDockerfile(input: Uint8Array | string, options: ParseOptions = {}): Dockerfile {
  return new DockerfileParser(
    typeof input === 'string' ? Buffer.from(input, 'utf8') : input,
    options,
  ).parse();
}

type ArgParser = (rest: string, escapeToken: string) => ParsedArgs;

const ARG_PARSERS: Record<string, ArgParser> = {
  add: parseMaybeJsonToList,
  arg: parseNameOrNameVal,
  cmd: parseMaybeJson,
  copy: parseMaybeJsonToList,
  entrypoint: parseMaybeJson,
  env: (rest, esc) => parseNameVal(rest, 'ENV', esc),
  expose: parseWhitespaceDelimited,
  from: parseWhitespaceDelimited,
  healthcheck: parseHealthConfig,
  label: (rest, esc) => parseNameVal(rest, 'LABEL', esc),
  maintainer: parseString,
  run: parseMaybeJson,
  shell: parseMaybeJson,
  stopsignal: parseString,
  user: parseString,
  volume: parseMaybeJsonToList,
  workdir: parseString,
};

const UTF8_BOM = '\ufeff';

/** Go's `bytes.TrimRight(line, "\r\n")`. */
function trimNewline(line: string): string {
  let end = line.length;
  while (end > 0 && (line[end - 1] === '\n' || line[end - 1] === '\r')) end--;
  return line.slice(0, end);
}

function isComment(line: string): boolean {
  return goTrimLeft(trimNewline(line)).startsWith('#');
}

function escapeForRegex(token: string): string {
  return token.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

class DockerfileParser {
  private readonly scanner: LineScanner;
  private readonly fileName: string;
  private readonly directives = new DirectiveParser();
  private escapeToken = '\\';
  private continuation = /([^\\])\\[ \t]*$|^\\[ \t]*$/;
  /** Physical lines read so far, without line endings, for error messages. */
  private readonly physical: string[] = [];

  constructor(bytes: Uint8Array, options: ParseOptions) {
    this.scanner = new LineScanner(bytes);
    this.fileName = options.fileName ?? 'Dockerfile';
  }

  private nextLine(): string | undefined {
    const line = this.scanner.next();
    if (line !== undefined) this.physical.push(trimNewline(line));
    return line;
  }

  private error(message: string, startLine: number, endLine = startLine): DockerfileSyntaxError {
    const first = Math.max(1, startLine);
    const last = Math.max(first, endLine);
    const text = this.physical.slice(first - 1, last).join('\n');
    return new DockerfileSyntaxError(message, this.fileName, first, last, text);
  }

  private setEscapeToken(token: string): void {
    this.escapeToken = token;
    const e = escapeForRegex(token);
    // The escape character continues a line when it is the last non-blank character and is not itself escaped.
    this.continuation = new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
  }

  /** BuildKit's `processLine`: newline removed, optionally left-trimmed, directives noted, a comment emptied. */
  private processLine(raw: string, stripLeft: boolean, lineNo: number): string {
    let token = trimNewline(raw);
    if (stripLeft) token = goTrimLeft(token);
    try {
      const directive = this.directives.parseLine(token, lineNo);
      if (directive?.name === 'escape') this.setEscapeToken(validateEscapeToken(directive.value));
    } catch (err) {
      if (err instanceof DirectiveError) throw this.error(err.message, lineNo);
      throw err;
    }
    return token.startsWith('#') ? '' : token;
  }

  private trimContinuation(line: string): [string, boolean] {
    if (this.continuation.test(line)) return [line.replace(this.continuation, '$1'), false];
    return [line, true];
  }

  parse(): Dockerfile {
    const instructions: Instruction[] = [];
    const warnings: ParseWarning[] = [];
    let comments: string[] = [];
    let currentLine = 0;

    for (let raw = this.nextLine(); raw !== undefined; raw = this.nextLine()) {
      if (currentLine === 0 && raw.startsWith(UTF8_BOM)) {
        raw = raw.slice(1);
        this.physical[0] = this.physical[0].slice(1);
      }
      const wasDirective = this.directives.directives.length;
      const token = this.processLine(raw, true, currentLine + 1);
      if (isComment(raw) && this.directives.directives.length === wasDirective) {
        comments.push(goTrimSpace(goTrimLeft(trimNewline(raw)).slice(1)));
      }
      currentLine++;

      const startLine = currentLine;
      let [line, isEndOfLine] = this.trimContinuation(token);
      if (isEndOfLine && line === '') continue;

      let hasEmptyContinuationLine = false;
      while (!isEndOfLine) {
        const next = this.nextLine();
        if (next === undefined) break;
        const piece = this.processLine(next, false, currentLine + 1);
        currentLine++;
        if (isComment(next)) continue;
        if (goTrimLeft(piece) === '') {
          hasEmptyContinuationLine = true;
          continue;
        }
        const [trimmed, end] = this.trimContinuation(piece);
        line += trimmed;
        isEndOfLine = end;
      }

      if (hasEmptyContinuationLine) {
        warnings.push({
          short: `Empty continuation line found in: ${line}`,
          detail: 'Empty continuation lines will become errors in a future release',
          startLine,
          endLine: currentLine,
        });
      }

      let instruction: Instruction;
      try {
        instruction = this.instructionFromLine(line, comments, startLine);
      } catch (err) {
        if (err instanceof LineParseError) throw this.error(err.message, startLine, currentLine);
        throw err;
      }

      if (this.canContainHeredoc(instruction) && line.includes('<<')) {
        let docs: Omit<Heredoc, 'content'>[];
        try {
          docs = heredocsFromLine(line);
        } catch (err) {
          throw this.error(err instanceof Error ? err.message : String(err), startLine, currentLine);
        }
        for (const doc of docs) {
          let content = '';
          let terminated = false;
          for (let body = this.nextLine(); body !== undefined; body = this.nextLine()) {
            currentLine++;
            let candidate = trimNewline(body);
            if (doc.chomp) candidate = candidate.replace(/^\t+/, '');
            if (candidate === doc.name) {
              terminated = true;
              break;
            }
            content += body;
          }
          if (!terminated) throw this.error('unterminated heredoc', startLine, currentLine);
          instruction.heredocs.push({ ...doc, content });
        }
      }

      instruction.startLine = startLine;
      instruction.endLine = currentLine;
      if (instruction.onbuild) {
        instruction.onbuild.startLine = startLine;
        instruction.onbuild.endLine = currentLine;
      }
      instructions.push(instruction);
      comments = [];
    }

    if (instructions.length === 0) {
      throw this.error('file with no instructions', currentLine);
    }
    if (this.scanner.tooLongLine > 0) {
      throw new DockerfileSyntaxError(
        `dockerfile line greater than max allowed size of ${MAX_LINE_BYTES}`,
        this.fileName,
        this.scanner.tooLongLine,
        this.scanner.tooLongLine,
        '',
      );
    }
    return {
      instructions,
      directives: this.directives.directives,
      escapeToken: this.escapeToken,
      warnings,
      startLine: instructions[0].startLine,
      endLine: instructions[instructions.length - 1].endLine,
    };
  }

  private instructionFromLine(line: string, comments: string[], startLine: number): Instruction {
    const { keyword, flags, rest } = splitCommand(line);
    const name = keyword.toLowerCase();
    const instruction: Instruction = {
      keyword,
      name,
      flags,
      args: [],
      json: false,
      heredocs: [],
      original: line,
      startLine,
      endLine: startLine,
      comments,
    };
    if (name === 'onbuild') {
      if (rest !== '') instruction.onbuild = this.instructionFromLine(rest, [], startLine);
      return instruction;
    }
    const parser = ARG_PARSERS[name];
    if (!parser) {
      // BuildKit parses unknown instructions and drops their arguments; the planner reports them.
      instruction.args = [''];
      return instruction;
    }
    const parsed = parser(rest, this.escapeToken);
    instruction.args = parsed.args;
    instruction.json = parsed.json;
    return instruction;
  }

  private canContainHeredoc(instruction: Instruction): boolean {
    const target =
      HEREDOC_WRAPPERS.has(instruction.name) && instruction.onbuild ? instruction.onbuild : instruction;
    return HEREDOC_INSTRUCTIONS.has(target.name) && !target.json;
  }
}
