import { validateSignal } from '../../src/planner/signal';

test.each([
  'TERM',
  'SIGTERM',
  'sigkill',
  'Hup',
  '1',
  '15',
  '64',
  'SIGRTMIN+1',
  'RTMAX-14',
  'RTMAX',
  'SIGWINCH',
])('%s is valid', (s) => {
  expect(() => validateSignal(s)).not.toThrow();
});

test.each(['', '0', 'SIG', 'TERMINATE', 'RTMIN+16', 'RTMAX-15', '1.5'])('%j is not', (s) => {
  expect(() => validateSignal(s)).toThrow(`invalid signal: ${s}`);
});
