import { PlanFault } from '../../src/planner/fault';
import { InstructionFlags } from '../../src/planner/flags';

const flags = (args: string[]): InstructionFlags =>
  new InstructionFlags(args).string('from').bool('link').strings('exclude').string('network', 'default');

test('values, booleans and repeated flags', () => {
  const f = flags(['--from=build', '--link', '--exclude=a', '--exclude=b']).parse();
  expect(f.value('from')).toBe('build');
  expect(f.isTrue('link')).toBe(true);
  expect(f.values('exclude')).toEqual(['a', 'b']);
  expect(f.value('network')).toBe('default');
  expect(f.isUsed('network')).toBe(false);
  expect(f.isUsed('from')).toBe(true);
});

test('booleans take true/false in any case', () => {
  expect(flags(['--link=FALSE']).parse().isTrue('link')).toBe(false);
  expect(flags(['--link=True']).parse().isTrue('link')).toBe(true);
});

test('an empty value is a value for string flags', () => {
  expect(flags(['--from=']).parse().value('from')).toBe('');
});

test('`--` ends the flags', () => {
  expect(flags(['--link', '--', '--nope']).parse().isTrue('link')).toBe(true);
});

test.each([
  [['--nope'], 'unknown flag: --nope'],
  [['--exlude=x'], 'unknown flag: --exlude (did you mean exclude?)'],
  [['--from=a', '--from=b'], 'duplicate flag specified: --from'],
  [['--link', '--link'], 'duplicate flag specified: --link'],
  [['--from'], 'missing a value on flag: --from'],
  [['--exclude'], 'missing a value on flag: --exclude'],
  [['--link='], 'missing a value on flag: --link'],
  [['--link=1'], 'expecting boolean value for flag --link, not: 1'],
  [['-x'], 'arg should start with -- : -x'],
])('%j fails: %s', (args, message) => {
  expect(() => flags(args).parse()).toThrow(PlanFault);
  expect(() => flags(args).parse()).toThrow(message);
});
