import { findCycle, reachable, type Edge } from '../../src/planner/graph';
import type { StageHeader } from '../../src/planner/stages';

const span = (line: number): Edge['span'] => ({ line, endLine: line, original: `L${line}` });
const header = (index: number, base: StageHeader['base']): StageHeader => ({
  index,
  displayName: `stage-${index}`,
  span: span(index),
  baseName: 'x',
  base,
  platform: { os: 'linux', architecture: 'amd64' },
  explicitPlatform: false,
});

test('findCycle reports the stage it starts from and the first edge of the loop', () => {
  expect(findCycle([[], [{ index: 0, span: span(2) }]])).toBeUndefined();
  expect(findCycle([[{ index: 0, span: span(1) }]])).toEqual({ stage: 0, span: span(1) });
  expect(
    findCycle([[{ index: 1, span: span(1) }], [{ index: 2, span: span(2) }], [{ index: 0, span: span(3) }]]),
  ).toEqual({ stage: 0, span: span(1) });
});

test('reachable follows bases and edges', () => {
  const headers = [
    header(0, { kind: 'scratch' }),
    header(1, { kind: 'stage', index: 0 }),
    header(2, { kind: 'image', ref: 'a', normalized: 'a' }),
    header(3, { kind: 'stage', index: 1 }),
    header(4, { kind: 'scratch' }),
  ];
  const edges: Edge[][] = [[], [], [], [{ index: 2, span: span(4) }], []];
  expect([...reachable(3, headers, edges)].sort()).toEqual([0, 1, 2, 3]);
  expect([...reachable(4, headers, edges)]).toEqual([4]);
});
