import { envOf, lastStage, plan, planError } from './helpers';

describe('ONBUILD triggers', () => {
  test('a parent stage’s triggers run first in a stage built on it, expanded there', () => {
    const p = plan(`FROM alpine AS base
ONBUILD ENV WHO=$NAME
ONBUILD run echo $WHO
RUN base-only
FROM base AS app
ENV NAME=later
FROM app
RUN last
`);
    const app = p.stages[1];
    expect(app.steps.map((s) => [s.kind, s.fromOnBuild, s.line, s.original])).toEqual([
      ['env', true, 5, 'ENV WHO=$NAME'],
      ['run', true, 5, 'run echo $WHO'],
      ['env', false, 6, 'ENV NAME=later'],
    ]);
    // Expanded with the child's environment at that point: NAME is not set yet.
    expect(app.steps[0]).toMatchObject({ vars: [{ key: 'WHO', value: '' }] });
    expect(app.onBuild).toEqual([]);
    // Triggers do not pass on to a grandchild.
    expect(lastStage(p).steps.map((s) => s.original)).toEqual(['RUN last']);
    expect(p.stages[0].onBuild).toEqual(['ENV WHO=$NAME', 'run echo $WHO']);
  });

  test('the stage’s own triggers are only registered, not run', () => {
    const p = plan('FROM alpine\nONBUILD RUN x\nRUN y\n');
    expect(p.stages[0].steps.map((s) => s.kind)).toEqual(['onbuild', 'run']);
    expect(p.stages[0].steps.every((s) => !s.fromOnBuild)).toBe(true);
  });

  test('a trigger’s COPY --from makes that stage needed', () => {
    const p = plan(`FROM alpine AS assets
FROM alpine AS base
ONBUILD COPY --from=assets /a /a
FROM alpine AS unused
FROM base
`);
    expect(lastStage(p).dependsOn).toEqual([0, 1]);
    expect(p.needed).toEqual([0, 1, 3]);
    expect(lastStage(p).steps[0]).toMatchObject({
      kind: 'copy',
      from: { kind: 'stage', index: 0 },
      fromOnBuild: true,
    });
  });

  test('a heredoc trigger parses again with its body', () => {
    const p = plan('FROM alpine AS base\nONBUILD RUN <<EOF\necho hi\nEOF\nFROM base\n');
    expect(lastStage(p).steps[0]).toMatchObject({
      kind: 'run',
      argv: ['/bin/sh', '-c', 'echo hi\n'],
      fromOnBuild: true,
      line: 5,
    });
  });

  test('an image’s triggers come from baseImage, or from baseOnBuild', () => {
    const fromConfig = plan('FROM node:onbuild\nRUN npm test\n', {
      baseImage: () => ({
        env: ['NODE_ENV=production'],
        workingDir: '/usr/src/app',
        onBuild: ['COPY . /usr/src/app/', 'RUN npm install'],
      }),
    });
    expect(fromConfig.stages[0].steps.map((s) => [s.kind, s.fromOnBuild])).toEqual([
      ['copy', true],
      ['run', true],
      ['run', false],
    ]);
    expect(envOf(fromConfig.stages[0].steps[1].context.env, 'NODE_ENV')).toBe('production');
    const refs: string[] = [];
    const fromCallback = plan('FROM node:onbuild\n', {
      baseOnBuild: (ref) => {
        refs.push(ref);
        return ['USER node'];
      },
    });
    expect(refs).toEqual(['docker.io/library/node:onbuild']);
    expect(fromCallback.stages[0].steps).toMatchObject([
      { kind: 'user', user: 'node', fromOnBuild: true, line: 1 },
    ]);
  });

  test.each([
    ['FOO bar', 'unknown instruction: FOO (did you mean FROM?)'],
    ['frobnicate', 'unknown instruction: frobnicate'],
    ['RUN a\nRUN b', 'onbuild trigger should be a single expression'],
    ['FROM alpine', "FROM isn't allowed as an ONBUILD trigger"],
    [
      'COPY onlyone',
      'COPY requires at least two arguments, but only one was provided. Destination could not be determined',
    ],
    [
      'COPY --from=Nope:x a b',
      'failed to parse stage name "Nope:x": invalid reference format: repository name (library/Nope) must be lowercase',
    ],
    ['WORKDIR ${NOPE:?trigger}', 'failed to process "${NOPE:?trigger}": NOPE: trigger'],
  ])('a bad image trigger %j is reported at the FROM line: %s', (trigger, message) => {
    const err = planError('# base\nFROM base-image\nRUN x\n', { baseOnBuild: () => [trigger] });
    expect(err.message).toBe(message);
    expect(err.location?.line).toBe(2);
    expect(err.location?.text).toBe('FROM base-image');
  });

  test('a bad trigger in a stage that is not built only marks it', () => {
    const p = plan('FROM broken AS unused\nFROM alpine\n', {
      baseOnBuild: (ref) => (ref.includes('broken') ? ['NOPE'] : undefined),
    });
    expect(p.stages[0].planError).toBe('unknown instruction: NOPE (did you mean COPY?)');
    expect(p.stages[0].steps).toEqual([]);
  });
});
