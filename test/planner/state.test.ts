import { DEFAULT_PATH, DEFAULT_SHELL, DEFAULT_WINDOWS_SHELL, StageState } from '../../src/planner/state';

test('an unknown or scratch base starts empty, with the default PATH', () => {
  expect(StageState.fromImage(undefined).snapshot()).toEqual({
    env: [{ key: 'PATH', value: DEFAULT_PATH }],
    args: [],
    workdir: '/',
    user: '',
    shell: DEFAULT_SHELL,
  });
});

test('an image config seeds env, workdir, user and shell', () => {
  const s = StageState.fromImage({
    env: ['PATH=/bin', 'X=1'],
    workingDir: '/app',
    user: '1000',
    shell: ['pwsh', '-c'],
  });
  expect(s.snapshot()).toEqual({
    env: [
      { key: 'PATH', value: '/bin' },
      { key: 'X', value: '1' },
    ],
    args: [],
    workdir: '/app',
    user: '1000',
    shell: ['pwsh', '-c'],
  });
  expect(StageState.fromImage({ shell: [] }).shell).toEqual(DEFAULT_SHELL);
});

test('a child continues from a snapshot without sharing it', () => {
  const parent = StageState.fromImage(undefined);
  parent.declareArg('A', '1');
  const snap = parent.snapshot();
  const child = StageState.fromContext(snap);
  child.declareArg('A', '2');
  child.env.set('Z', '1');
  expect(snap.args).toEqual([{ key: 'A', value: '1' }]);
  expect(snap.env).toHaveLength(1);
});

test('declareArg keeps the place of a redeclared name', () => {
  const s = StageState.fromImage(undefined);
  s.declareArg('A', undefined);
  s.declareArg('B', '1');
  s.declareArg('A', '2');
  s.declareArg('B', undefined);
  expect(s.args).toEqual([
    { key: 'A', value: '2' },
    { key: 'B', value: '1' },
  ]);
});

test('a Windows stage gets cmd as its shell and no default PATH', () => {
  const s = StageState.fromImage(undefined, 'windows').snapshot();
  expect(s.shell).toEqual(DEFAULT_WINDOWS_SHELL);
  expect(s.env).toEqual([]);
});
