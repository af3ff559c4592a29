/**
 * The loose reading of RUN scripts the rules rely on: simple commands cut at the shell's separators, quotes removed,
 * prefixes dropped, `sh -c` read into; and which of them are dependency installs.
 */
import { installOf } from '../../src/advice/installs';
import { simpleCommands } from '../../src/advice/shell-commands';
import { looksPerBuild, valueLooksPerBuild } from '../../src/advice/volatile';

describe('simpleCommands', () => {
  test.each([
    ['a && b || c; d | e & f', [['a'], ['b'], ['c'], ['d'], ['e'], ['f']]],
    [
      'DEBIAN_FRONTEND=noninteractive sudo -E apt-get install -y "a b"',
      [['apt-get', 'install', '-y', 'a b']],
    ],
    ['if [ -f x ]; then env A=1 npm ci; fi', [['[', '-f', 'x', ']'], ['npm', 'ci'], ['fi']]],
    [
      "bash -lc 'cd /app && go mod download'",
      [
        ['cd', '/app'],
        ['go', 'mod', 'download'],
      ],
    ],
    ['echo $(npm --version) # npm ci', [['echo'], ['npm', '--version']]],
    [
      'apt-get update \\\n  && apt-get install x',
      [
        ['apt-get', 'update'],
        ['apt-get', 'install', 'x'],
      ],
    ],
    ["echo 'a && b'", [['echo', 'a && b']]],
  ])('%j', (script, commands) => {
    expect(simpleCommands(script)).toEqual(commands);
  });
});

describe('installOf', () => {
  test.each([
    ['npm ci --omit=dev', 'npm ci'],
    ['npm install --prefix /app', 'npm install'],
    ['/usr/local/bin/pip3 install -r/tmp/req.txt', 'pip install -r /tmp/req.txt'],
    ['uv pip install --requirement=r.txt', 'pip install -r r.txt'],
    ['poetry install --no-root', 'poetry install'],
    ['dotnet restore', 'dotnet restore'],
  ])('%s is %s', (command, label) => {
    expect(installOf(command.split(' '))?.label).toBe(label);
  });

  test.each([
    'npm install -g pnpm',
    'npm run build',
    'yarn add react',
    'pip install flask',
    'go build ./...',
    'cargo install ripgrep',
  ])('%s is not', (command) => {
    expect(installOf(command.split(' '))).toBeUndefined();
  });
});

describe('per-build values', () => {
  test.each([
    ['3f9c2e1', true],
    ['2024-05-01T10:00:00Z', true],
    ['1234567', false],
    ['deadbeefcafe', false],
    ['1.2.3', false],
  ])('%s → %s', (value, expected) => {
    expect(valueLooksPerBuild(value)).toBe(expected);
  });

  test.each([
    ['GIT_COMMIT', {}, true],
    ['SOURCE_COMMIT', { written: 'abc' }, true],
    ['BUILD_DATE', {}, true],
    ['CI_PIPELINE_ID', {}, true],
    ['VERSION', { written: '0.0.0-dev' }, true],
    ['VERSION', { written: '1.4.2' }, false],
    ['VERSION', {}, false],
    ['VERSION', { buildArg: '2024-05-01' }, true],
    ['GO_VERSION', { written: '1.22' }, false],
    ['PRECOMMIT_HOME', {}, false],
    ['TARGETPLATFORM', {}, false],
  ])('%s %j → %s', (name, declared, expected) => {
    expect(looksPerBuild(name, declared)).toBe(expected);
  });
});
