import { detectDirective, dumpDockerfile, parseDockerfile, DockerfileSyntaxError } from '../../src/parser';
import { DirectiveParser } from '../../src/parser/directives';
import { chompHeredocContent, heredocsFromLine, parseHeredocWord } from '../../src/parser/heredoc';
import { parseJsonArray, parseNameVal, parseWords } from '../../src/parser/line-parsers';
import { readJson } from '../helpers/conformance';

/** Facts from BuildKit's parser unit tests (parser-unit-cases.json and heredocs.json), each checked here. */

interface UnitCases {
  parseWords: { cases: { input: string; expect: string[] }[] };
  jsonArraysOfStrings: { valid: { input: string; expect: string[] }[]; invalid_not_string_array: string[] };
  emptyContinuationWarnings: {
    dockerfile: string;
    expect: { warning_count: number; warnings_contain: string[][]; detail_contains: string };
  };
  scannerErrors: { expect_error: string };
  nameVal: {
    cases: { rest: string; key: 'ENV' | 'LABEL'; expect_values?: string[]; expect_error?: string }[];
  };
  directives: {
    directiveParser: { input: string; expect: { name: string; value: string }[] }[];
    detectSyntax: DetectCase[];
    parseDirective_check: DetectCase[];
  };
}

interface DetectCase {
  input: string;
  input_hex_prefix?: string;
  ok: boolean;
  ref?: string;
  cmdline?: string;
  line?: number;
}

const unit = readJson<UnitCases>('dockerfile-parser/parser-unit-cases.json');

describe('parseWords (TestParseWords)', () => {
  test.each(unit.parseWords.cases)('$input', ({ input, expect: want }) => {
    expect(parseWords(input, '\\')).toEqual(want);
  });
});

describe('JSON arrays (TestJSONArraysOfStrings)', () => {
  test.each(unit.jsonArraysOfStrings.valid)('valid $input', ({ input, expect: want }) => {
    expect(parseJsonArray(input)).toEqual({ kind: 'array', values: want });
  });
  test.each(unit.jsonArraysOfStrings.invalid_not_string_array)('not a string array: %s', (input) => {
    expect(parseJsonArray(input)).toEqual({ kind: 'not-strings' });
    expect(() => parseDockerfile(`FROM a\nCMD ${input}\n`)).toThrow(DockerfileSyntaxError);
  });
});

describe('empty continuation lines (TestParseWarnsOnEmptyContinutationLine)', () => {
  const c = unit.emptyContinuationWarnings;
  test('warn and still parse', () => {
    const df = parseDockerfile(c.dockerfile);
    expect(df.warnings).toHaveLength(c.expect.warning_count);
    c.expect.warnings_contain.forEach((parts, i) => {
      for (const part of parts) expect(df.warnings[i].short).toContain(part);
    });
    expect(df.warnings[0].detail).toContain(c.expect.detail_contains);
  });
});

describe('64 KiB line limit (TestParseReturnsScannerErrors)', () => {
  test('a 65536-byte line is an error', () => {
    const input = `\n\t\tFROM image\n\t\tLABEL test=${'a'.repeat(65536)}\n`;
    expect(() => parseDockerfile(input)).toThrow(unit.scannerErrors.expect_error);
  });
  test('a 65535-byte line is fine', () => {
    const line = `LABEL t=${'a'.repeat(65535 - 'LABEL t='.length)}`;
    expect(Buffer.byteLength(line)).toBe(65535);
    expect(dumpDockerfile(parseDockerfile(`FROM image\n${line}\n`))).toContain('(label "t"');
  });
});

describe('name/value parsing (line_parsers_test.go)', () => {
  test.each(unit.nameVal.cases)('$key $rest', ({ rest, key, expect_values, expect_error }) => {
    if (expect_error) expect(() => parseNameVal(rest, key, '\\')).toThrow(expect_error);
    else expect(parseNameVal(rest, key, '\\').args).toEqual(expect_values);
  });
});

describe('directives (directives_test.go)', () => {
  test.each(unit.directives.directiveParser)('DirectiveParser $input', ({ input, expect: want }) => {
    const parser = new DirectiveParser();
    input.split('\n').forEach((line, i) => parser.parseLine(line, i + 1));
    expect(parser.directives.map(({ name, value }) => ({ name, value }))).toEqual(want);
  });

  const asBytes = (c: DetectCase): Buffer =>
    Buffer.concat([Buffer.from(c.input_hex_prefix ?? '', 'hex'), Buffer.from(c.input, 'utf8')]);

  test.each(unit.directives.detectSyntax)('DetectSyntax $input', (c) => {
    const found = detectDirective('syntax', asBytes(c), true);
    expect(found !== undefined).toBe(c.ok);
    if (found && c.ref !== undefined) expect(found.ref).toBe(c.ref);
    if (found && c.cmdline !== undefined) expect(found.cmdline).toBe(c.cmdline);
    if (found && c.line !== undefined) expect(found.line).toBe(c.line);
  });

  test.each(unit.directives.parseDirective_check)('ParseDirective(check) $input', (c) => {
    const found = detectDirective('check', asBytes(c), false);
    expect(found !== undefined).toBe(c.ok);
    if (found && c.ref !== undefined) expect(found.ref).toBe(c.ref);
    if (found && c.cmdline !== undefined) expect(found.cmdline).toBe(c.cmdline);
    if (found && c.line !== undefined) expect(found.line).toBe(c.line);
  });

  test('directives are recorded in the AST, with the escape token', () => {
    const df = parseDockerfile('# syntax=docker/dockerfile:1\n# escape=`\nFROM a\nRUN a `\n b\n');
    expect(df.directives.map((d) => [d.name, d.value, d.line])).toEqual([
      ['syntax', 'docker/dockerfile:1', 1],
      ['escape', '`', 2],
    ]);
    expect(df.escapeToken).toBe('`');
    expect(dumpDockerfile(df)).toBe('(from "a")\n(run "a  b")\n');
  });
});

interface HeredocFacts {
  parseExtractsHeredoc: {
    dockerfile: string;
    expected: { child_index: number; heredocs: unknown[] | null }[];
  };
  parseJSONHeredoc: { dockerfile: string };
  chomp: { input: string; expected: string };
  parseHeredoc: { valid_name_EOF: string[]; invalid_error: string[]; not_heredoc_nil: string[] };
  heredocsFromLine: {
    cases: { line: string; names: string[] | null; reference_actually_returns?: string[] }[];
  };
}

const heredocs = readJson<HeredocFacts>('dockerfile-parser/heredocs.json');

describe('heredocs (parser_heredoc_test.go)', () => {
  const df = parseDockerfile(heredocs.parseExtractsHeredoc.dockerfile);
  test.each(heredocs.parseExtractsHeredoc.expected)(
    'child $child_index',
    ({ child_index, heredocs: want }) => {
      expect(df.instructions[child_index].heredocs).toEqual(want ?? []);
    },
  );

  test('JSON form never carries heredocs', () => {
    const json = parseDockerfile(heredocs.parseJSONHeredoc.dockerfile);
    expect(json.instructions.slice(1).map((i) => i.heredocs)).toEqual([[], [], []]);
  });

  test('chomp removes leading tabs of every line', () => {
    expect(chompHeredocContent(heredocs.chomp.input)).toBe(heredocs.chomp.expected);
  });

  test.each(heredocs.parseHeredoc.valid_name_EOF)('ParseHeredoc(%s) names EOF', (word) => {
    expect(parseHeredocWord(word)?.name).toBe('EOF');
  });
  test.each(heredocs.parseHeredoc.invalid_error)('ParseHeredoc(%s) is an error', (word) => {
    expect(() => parseHeredocWord(word)).toThrow();
  });
  test.each(heredocs.parseHeredoc.not_heredoc_nil)('ParseHeredoc(%s) is not a heredoc', (word) => {
    expect(parseHeredocWord(word)).toBeUndefined();
  });

  // One upstream expectation (`RUN <<- EOF`) is not what BuildKit does; we match BuildKit's actual behaviour,
  // recorded in the corpus as reference_actually_returns.
  test.each(heredocs.heredocsFromLine.cases)('heredocsFromLine($line)', (c) => {
    const want = c.reference_actually_returns ?? c.names ?? [];
    expect(heredocsFromLine(c.line).map((h) => h.name)).toEqual(want);
  });
});
