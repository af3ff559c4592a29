/**
 * What the conformance files do not exercise: the option modes (RawQuotes, RawEscapes, SkipUnsetEnv,
 * SkipProcessQuotes, the backtick escape), heredoc markers in ProcessWords, Go's rune and regexp rules, and the
 * error texts. Expectations come from reading BuildKit's lex.go and from the heredoc facts in
 * test/conformance-data/dockerfile-parser/heredocs.json.
 */
import { envFromSlice, ShellExpansionError, ShellLex } from '../../../src/parser/shell/lex';
import { reversePattern } from '../../../src/parser/shell/pattern';

const empty = new Map<string, string>();
const env = (o: Record<string, string>): Map<string, string> => new Map(Object.entries(o));

describe('heredoc markers in ProcessWords (the parser mode: rawQuotes + skipUnsetEnv)', () => {
  const lex = new ShellLex({ rawQuotes: true, skipUnsetEnv: true });
  test.each([
    ['RUN <<EOF', ['RUN', '<<EOF']],
    ['RUN cat << EOF', ['RUN', 'cat', '<< EOF']],
    ['RUN <<  EOF', ['RUN', '<<  EOF']],
    ['RUN <<  EOF  > foo', ['RUN', '<<  EOF', '>', 'foo']],
    // `<<-` followed by a space is split, so it is not a heredoc in BuildKit.
    ['RUN <<- EOF', ['RUN', '<<-', 'EOF']],
    ['RUN << -EOF', ['RUN', '<< -EOF']],
    ['RUN 4<<EOF', ['RUN', '4<<EOF']],
    ['COPY <<FILE1 <<FILE2 /dest', ['COPY', '<<FILE1', '<<FILE2', '/dest']],
    ["RUN '<<EOF'", ['RUN', "'<<EOF'"]],
    ['RUN "<<EOF"', ['RUN', '"<<EOF"']],
    ["RUN <<'one two'", ['RUN', "<<'one two'"]],
    ['RUN <<$EOF', ['RUN', '<<$EOF']],
    ['RUN <<EOF cat', ['RUN', '<<EOF', 'cat']],
  ])('%j → %j', (line, words) => {
    expect(lex.processWords(line, empty)).toEqual(words);
  });

  test('with rawEscapes too, escapes stay in the marker', () => {
    const raw = new ShellLex({ rawQuotes: true, rawEscapes: true });
    expect(raw.processWords("RUN <<eo\\'f", empty)).toEqual(['RUN', "<<eo\\'f"]);
    expect(raw.processWords("RUN <<'e'o\\'f", empty)).toEqual(['RUN', "<<'e'o\\'f"]);
  });
});

describe('skipUnsetEnv', () => {
  const lex = new ShellLex({ skipUnsetEnv: true });
  test.each([
    ['$FOO', '$FOO'],
    ['${FOO}', '${FOO}'],
    ['a${FOO:-x y}b', 'a${FOO:-x y}b'],
    ['${FOO+$SET}', '${FOO+1}'], // the modifier word is expanded before it is written back
    ['${FOO#*.}', '${FOO#*.}'],
    // BuildKit writes a single `/` back, even for `//`.
    ['${FOO//a/b}', '${FOO/a/b}'],
    ['$SET ${SET:-x}', '1 1'],
    ['$1 $@', '$1 $@'],
  ])('%j → %j', (word, expected) => {
    expect(lex.processWord(word, env({ SET: '1' }))).toBe(expected);
  });

  test('words keep unset references whole', () => {
    expect(lex.processWords('echo $FOO ${BAR:-a b} ${BAZ}', empty)).toEqual([
      'echo',
      '$FOO',
      '${BAR:-a',
      'b}',
      '${BAZ}',
    ]);
  });
});

describe('rawQuotes', () => {
  const lex = new ShellLex({ rawQuotes: true });
  test.each([
    [`'a b'`, `'a b'`],
    [`"a $X"`, `"a 1"`],
    [`x"y"'z'`, `x"y"'z'`],
  ])('%j → %j', (word, expected) => {
    expect(lex.processWord(word, env({ X: '1' }))).toBe(expected);
  });

  test('quotes still group words', () => {
    expect(lex.processWords(`a 'b c' "d e"`, empty)).toEqual(['a', "'b c'", '"d e"']);
  });
});

describe('rawEscapes', () => {
  const lex = new ShellLex({ rawEscapes: true });
  test.each([
    ['a\\ b', 'a\\ b'],
    ['\\$X', '\\$X'],
    ['"a\\"b"', 'a\\"b'],
    ['"a\\$X"', 'a\\$X'],
    // Inside double quotes an escape before an ordinary character comes out twice (BuildKit does this).
    ['"a\\tb"', 'a\\\\tb'],
    ['end\\', 'end\\'],
  ])('%j → %j', (word, expected) => {
    expect(lex.processWord(word, env({ X: '1' }))).toBe(expected);
  });

  test('an escaped space still does not split', () => {
    expect(lex.processWords('a\\ b c', empty)).toEqual(['a\\ b', 'c']);
  });
});

describe('skipProcessQuotes', () => {
  const lex = new ShellLex({ skipProcessQuotes: true });
  test('quotes are ordinary characters', () => {
    expect(lex.processWord(`'$X' "$X"`, env({ X: '1' }))).toBe(`'1' "1"`);
    expect(lex.processWords(`'a b'`, empty)).toEqual(["'a", "b'"]);
    expect(lex.processWord(`'unterminated`, empty)).toBe(`'unterminated`);
  });
});

describe('escape token `', () => {
  const lex = new ShellLex({ escapeToken: '`' });
  test.each([
    ['a`$X', 'a$X'],
    ['C:\\path\\$X', 'C:\\path\\1'],
    ['"a`"b"', 'a"b'],
    ['"a``b"', 'a`b'],
    ['"a`b"', 'a`b'],
    ['a` b', 'a b'],
  ])('%j → %j', (word, expected) => {
    expect(lex.processWord(word, env({ X: '1' }))).toBe(expected);
  });

  test('rejects an escape token that is not one character', () => {
    expect(() => new ShellLex({ escapeToken: '' })).toThrow(TypeError);
    expect(() => new ShellLex({ escapeToken: '\\\\' })).toThrow(TypeError);
  });
});

describe('Go runes and character classes', () => {
  const lex = new ShellLex();
  test('names may hold any Unicode letters and decimal digits, astral ones included', () => {
    const e = env({ 한국어: 'k', '𝒳': 'x', a٣: 'arabic-indic three' });
    expect(lex.processWord('$한국어.$𝒳.${a٣}', e)).toBe('k.x.arabic-indic three');
    expect(lex.processWordWithMatches('$𝒳$nope', e).unmatched).toEqual(new Set(['nope']));
  });

  test('a leading digit takes all the digits, Unicode ones too', () => {
    expect(lex.processWord('$1٣x', empty)).toBe('x');
  });

  test('Unicode White_Space splits words (NBSP, NEL), a BOM does not', () => {
    expect(lex.processWords('$V', env({ V: 'a\u00a0b\u0085c\u3000d' }))).toEqual(['a', 'b', 'c', 'd']);
    expect(lex.processWords('$V', env({ V: 'a\ufeffb' }))).toEqual(['a\ufeffb']);
  });

  test('a byte-order mark at the very start is dropped, as text/scanner does', () => {
    expect(lex.processWord('\ufeffabc', empty)).toBe('abc');
    expect(lex.processWord('a\ufeffbc', empty)).toBe('a\ufeffbc');
  });
});

describe('patterns (#, ##, %, %%, /, //)', () => {
  const lex = new ShellLex();
  const v = (value: string, word: string, extra: Record<string, string> = {}): string =>
    lex.processWord(word, env({ V: value, ...extra }));

  test('shortest and longest prefix and suffix', () => {
    expect(v('xxaYaZ', '${V%a*}')).toBe('xxaY');
    expect(v('xxaYaZ', '${V%%a*}')).toBe('xx');
    expect(v('aXaY', '${V#*a}')).toBe('XaY');
    expect(v('aXaY', '${V##*a}')).toBe('Y');
  });

  test('a doubled operator is seen after expansion: ${V#$P} with P=#*a is greedy', () => {
    expect(v('aXaY', '${V#$P}', { P: '#*a' })).toBe('Y');
  });

  test('? matches any rune but a newline (Go), a carriage return included', () => {
    expect(v('\rb', '${V#?}')).toBe('b');
    expect(v('a\nb', '${V#??}')).toBe('a\nb');
    expect(v('𝒳y', '${V#?}')).toBe('y');
  });

  test('[...] is literal', () => {
    expect(v('[a]b', '${V#[a]}')).toBe('b');
    expect(v('ab', '${V#[a]}')).toBe('ab');
  });

  test('an escaped pattern character other than * ? \\ } / is an error', () => {
    expect(() => v('x', '${V#\\x}')).toThrow('invalid pattern (\\x) in substitution: invalid escape');
  });

  test('${V/p/r} inserts r literally, ${V//p/r} treats it as a Go template', () => {
    expect(v('foo', '${V/o/\\$0}')).toBe('f\\$0o');
    expect(v('foo', '${V//o/\\$0}')).toBe('f\\o\\o');
    expect(v('foo', '${V//o/<\\$0>}')).toBe('f<\\o><\\o>');
  });

  test('replace-all follows Go for empty matches', () => {
    expect(v('abc', '${V//*/x}')).toBe('x');
    expect(v('ab', '${V//$E/-}', { E: '' })).toBe('-a-b-');
    expect(v('a𝒳', '${V//$E/-}', { E: '' })).toBe('-a-𝒳-');
  });

  test('reversePattern keeps escape pairs in order', () => {
    expect(reversePattern('a\\*c')).toBe('c\\*a');
    expect(reversePattern('ab\\')).toBe('\\ba');
  });
});

describe('errors', () => {
  const lex = new ShellLex();
  test.each([
    ['he${PWD:=000}xx', 'failed to process "he${PWD:=000}xx": unsupported modifier (:=) in substitution'],
    ['${V=x}', 'failed to process "${V=x}": unsupported modifier (=) in substitution'],
    ['${}', `failed to process "\${}": syntax error: bad substitution`],
    ['${V', 'failed to process "${V": unsupported modifier (\ufffd) in substitution'],
    ['${V:-x', `failed to process "\${V:-x": syntax error: missing '}'`],
    ['${V/x', `failed to process "\${V/x": syntax error: missing '/' in \${}`],
    ['${V:#x}', 'failed to process "${V:#x}": unsupported modifier (:#) in substitution'],
    ["'a", 'failed to process "\'a": unexpected end of statement while looking for matching single-quote'],
    [
      '"a\\',
      'failed to process "\\"a\\\\": unexpected end of statement while looking for matching double-quote',
    ],
    ['${NULL:?}', 'failed to process "${NULL:?}": NULL: is not allowed to be empty'],
    ['${UNSET?}', 'failed to process "${UNSET?}": UNSET: is not allowed to be unset'],
    ['a\tb${V=}', 'failed to process "a\\tb${V=}": unsupported modifier (=) in substitution'],
  ])('%j', (word, message) => {
    let caught: unknown;
    try {
      lex.processWord(word, envFromSlice(['NULL=']));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ShellExpansionError);
    expect((caught as ShellExpansionError).message).toBe(message);
    expect((caught as ShellExpansionError).word).toBe(word);
  });
});
