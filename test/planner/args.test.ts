import { ShellLex } from '../../src/parser/shell/lex';
import { applyMetaArgs, automaticArgs, isBuiltinArg, isProxyArg } from '../../src/planner/args';
import type { ArgCommand } from '../../src/planner/commands';
import { SourceText } from '../../src/planner/fault';

const AMD64 = { os: 'linux', architecture: 'amd64' };

test('isProxyArg and isBuiltinArg', () => {
  expect(isProxyArg('http_proxy')).toBe(true);
  expect(isProxyArg('All_Proxy')).toBe(true);
  expect(isProxyArg('PROXY')).toBe(false);
  expect(isBuiltinArg('TARGETARCH')).toBe(true);
  expect(isBuiltinArg('targetarch')).toBe(false);
  expect(isBuiltinArg('BUILDKIT_INLINE_CACHE')).toBe(true);
  expect(isBuiltinArg('SOURCE_DATE_EPOCH')).toBe(true);
  expect(isBuiltinArg('VERSION')).toBe(false);
});

test('applyMetaArgs: build args win, defaults see earlier args, valueless ARGs add nothing', () => {
  const span = { line: 1, endLine: 1, original: 'ARG' };
  const cmd = (args: ArgCommand['args']): ArgCommand => ({ kind: 'arg', args, span, fromOnBuild: false });
  const { globalArgs, metaArgs } = applyMetaArgs(
    [
      cmd([
        { key: 'A', value: 'a-$TARGETARCH' },
        { key: 'B', value: '${A}b' },
      ]),
      cmd([{ key: 'C' }, { key: 'D', value: 'x' }]),
    ],
    automaticArgs(AMD64, AMD64, '', new Map()),
    new Map([['D', 'given']]),
    new ShellLex(),
    new SourceText('Dockerfile', undefined),
  );
  expect(globalArgs.get('A')).toBe('a-amd64');
  expect(globalArgs.get('B')).toBe('a-amd64b');
  expect(globalArgs.has('C')).toBe(false);
  expect(globalArgs.get('D')).toBe('given');
  expect(metaArgs.map((m) => m.value)).toEqual(['a-amd64', 'a-amd64b', undefined, 'given']);
});
