import { EnvList } from '../../src/planner/env-list';

test('set moves a name to the end; fromSlice reads KEY=VALUE', () => {
  const env = EnvList.fromSlice(['A=1', 'B=2=3', 'C']);
  expect(env.toArray()).toEqual([
    { key: 'A', value: '1' },
    { key: 'B', value: '2=3' },
    { key: 'C', value: '' },
  ]);
  env.set('A', 'x');
  expect(env.toArray().map((e) => e.key)).toEqual(['B', 'C', 'A']);
  expect(env.get('A')).toBe('x');
  expect(env.has('Z')).toBe(false);
  expect(env.toMap().get('B')).toBe('2=3');
});

test('snapshots and clones are independent', () => {
  const env = new EnvList([{ key: 'A', value: '1' }]);
  const snap = env.toArray();
  const copy = env.clone();
  env.set('A', '2');
  expect(snap).toEqual([{ key: 'A', value: '1' }]);
  expect(copy.get('A')).toBe('1');
});
