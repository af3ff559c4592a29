import { only, plan, steps } from './helpers';

describe('COPY and ADD', () => {
  test('sources, destination and --chown are expanded; the destination is resolved', () => {
    const s = steps(
      'FROM alpine\nWORKDIR /app\nARG U=1000 SRC=src\nCOPY --chown=$U:$U $SRC/*.ts "two"words ./\n',
    );
    expect(only(s, 'copy')).toMatchObject({
      kind: 'copy',
      sources: [
        { kind: 'path', path: 'src/*.ts' },
        { kind: 'path', path: 'twowords' },
      ],
      dest: './',
      destPath: '/app/',
      chown: '1000:1000',
      link: false,
      parents: false,
      excludes: [],
      heredocs: [],
      createdBy: 'COPY --chown=1000:1000 src/*.ts twowords ./ # buildkit',
    });
  });

  test('the shell form splits on blanks before quotes are seen, as BuildKit does', () => {
    expect(() => steps('FROM alpine\nCOPY "a b" /x/\n')).toThrow(
      'failed to process "\\"a": unexpected end of statement while looking for matching double-quote',
    );
  });

  test('the JSON form allows spaces', () => {
    const copy = only(steps('FROM alpine\nCOPY ["a b", "/dest dir/"]\n'), 'copy');
    expect(copy.sources).toEqual([{ kind: 'path', path: 'a b' }]);
    expect(copy.destPath).toBe('/dest dir/');
  });

  test('destinations: `.`, relative, absolute kept as written', () => {
    const dest = (d: string): string =>
      only(steps(`FROM alpine\nWORKDIR /w\nCOPY a ${d}\n`), 'copy').destPath;
    expect(dest('.')).toBe('/w/');
    expect(dest('sub')).toBe('/w/sub');
    expect(dest('sub/')).toBe('/w/sub/');
    expect(dest('sub/.')).toBe('/w/sub/.');
    expect(dest('../x')).toBe('/x');
    expect(dest('/abs/../y/')).toBe('/abs/../y/');
  });

  test('--from a stage, by name (any case) or index, or an image, or scratch', () => {
    const p = plan(
      'FROM alpine AS build\nFROM alpine\nCOPY --from=BUILD /a /a\nCOPY --from=0 /b /b\nCOPY --from=nginx:1.25 /c /c\nCOPY --from=scratch /d /d\n',
    );
    const copies = p.stages[1].steps.map((s) => (s.kind === 'copy' ? s.from : undefined));
    expect(copies).toEqual([
      { kind: 'stage', index: 0 },
      { kind: 'stage', index: 0 },
      { kind: 'image', ref: 'nginx:1.25', normalized: 'docker.io/library/nginx:1.25' },
      { kind: 'scratch' },
    ]);
    expect(p.stages[1].steps[0].createdBy).toBe('COPY /a /a # buildkit');
  });

  test('--chmod: octal or symbolic', () => {
    const s = steps(
      'FROM alpine\nARG M=0755\nCOPY --chmod=$M a /a\nCOPY --chmod=u+x,go-w b /b\nCOPY --chmod=0 c /c\n',
    );
    expect(s.slice(1).map((st) => (st.kind === 'copy' ? st.chmod : undefined))).toEqual([
      { kind: 'octal', mode: 0o755 },
      { kind: 'symbolic', spec: 'u+x,go-w' },
      { kind: 'octal', mode: 0 },
    ]);
    expect(s[1].createdBy).toBe('COPY --chmod=0755 a /a # buildkit');
  });

  test('--link, --parents and --exclude (never expanded)', () => {
    const copy = only(
      steps('FROM alpine\nENV E=x\nCOPY --link --parents --exclude=*.md --exclude=$E ./docs/./**/ /out/\n'),
      'copy',
    );
    expect(copy).toMatchObject({
      link: true,
      parents: true,
      excludes: ['*.md', '$E'],
      createdBy: 'COPY --parents ./docs/./**/ /out/ # buildkit',
    });
  });

  test('ADD: URLs, git, local; --checksum expanded; --keep-git-dir and --unpack only when given', () => {
    const s = steps(
      'FROM alpine\nARG SUM=sha256:abc\nADD --checksum=$SUM https://example.com/a.tar.gz /a\nADD --keep-git-dir=true https://github.com/o/r.git#v1:dir /r\nADD --unpack=false x.tar /x\nADD git@github.com:o/r.git ssh://host/r /y/\n',
    );
    expect(s.slice(1)).toMatchObject([
      {
        kind: 'add',
        sources: [{ kind: 'url', url: 'https://example.com/a.tar.gz' }],
        checksum: 'sha256:abc',
        createdBy: 'ADD https://example.com/a.tar.gz /a # buildkit',
      },
      { sources: [{ kind: 'git', url: 'https://github.com/o/r.git#v1:dir' }], keepGitDir: true },
      { sources: [{ kind: 'path', path: 'x.tar' }], unpack: false },
      {
        sources: [
          { kind: 'git', url: 'git@github.com:o/r.git' },
          { kind: 'git', url: 'ssh://host/r' },
        ],
      },
    ]);
    const plain = s[3];
    expect(plain.kind === 'add' && 'keepGitDir' in plain).toBe(false);
  });

  test('heredoc sources: chomped, expanded unless the delimiter is quoted; escapes are processed, quotes kept', () => {
    const s = steps(
      'FROM alpine\nENV NAME=world\nCOPY <<EOF <<-\'RAW\' /etc/\nhello "$NAME" a\\nb\nEOF\n\tkeep $NAME\nRAW\n',
    );
    const copy = only(s, 'copy');
    expect(copy.heredocs).toEqual([
      { name: 'EOF', content: 'hello "world" anb\n' },
      { name: 'RAW', content: 'keep $NAME\n' },
    ]);
    expect(copy.sources).toEqual([]);
    expect(copy.createdBy).toBe('COPY <<EOF <<RAW /etc/ # buildkit');
    expect(copy.endLine).toBe(7);
  });

  test('a file heredoc mixed with paths', () => {
    const copy = only(steps('FROM alpine\nCOPY a <<EOF b /d/\nx\nEOF\n'), 'copy');
    expect(copy.sources).toEqual([
      { kind: 'path', path: 'a' },
      { kind: 'path', path: 'b' },
    ]);
    expect(copy.heredocs).toEqual([{ name: 'EOF', content: 'x\n' }]);
  });

  test('heredoc as destination is refused', () => {
    expect(() => steps('FROM alpine\nCOPY a <<EOF\nx\nEOF\n')).toThrow(
      'COPY cannot accept a heredoc as a destination',
    );
  });
});
