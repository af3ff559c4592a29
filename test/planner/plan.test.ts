import { parseDockerfile } from '../../src/parser';
import { expandOnBuildTriggers, planBuild } from '../../src/planner';
import { AMD64, envOf, lastStage, plan, planError } from './helpers';

describe('stages', () => {
  test('are listed in file order with names, bases and lines', () => {
    const p = plan('FROM alpine:3.19 AS Build\nRUN true\n\nFROM build\nFROM scratch\n');
    expect(p.stages.map((s) => [s.index, s.name, s.displayName, s.line])).toEqual([
      [0, 'build', 'build', 1],
      [1, undefined, 'stage-1', 4],
      [2, undefined, 'stage-2', 5],
    ]);
    expect(p.stages[0].base).toEqual({
      kind: 'image',
      ref: 'alpine:3.19',
      normalized: 'docker.io/library/alpine:3.19',
    });
    expect(p.stages[1].base).toEqual({ kind: 'stage', index: 0 });
    expect(p.stages[2].base).toEqual({ kind: 'scratch' });
    expect(p.stages[0].original).toBe('FROM alpine:3.19 AS Build');
  });

  test('image references are normalised the way BuildKit pulls them', () => {
    const p = plan(
      'FROM ghcr.io/o/r@sha256:' + 'a'.repeat(64) + '\nFROM localhost:5000/x\nFROM busybox:musl\n',
    );
    expect(p.stages.map((s) => (s.base.kind === 'image' ? s.base.normalized : ''))).toEqual([
      'ghcr.io/o/r@sha256:' + 'a'.repeat(64),
      'localhost:5000/x:latest',
      'docker.io/library/busybox:musl',
    ]);
  });

  test('a base names the latest earlier stage of that exact name, never a later one', () => {
    const p = plan('FROM alpine AS a\nFROM a AS b\nFROM b\n');
    expect(p.stages[1].base).toEqual({ kind: 'stage', index: 0 });
    expect(p.stages[2].base).toEqual({ kind: 'stage', index: 1 });
    const later = plan('FROM c\nFROM alpine AS c\n');
    expect(later.stages[0].base).toMatchObject({ kind: 'image', normalized: 'docker.io/library/c:latest' });
  });

  test('a stage built on another inherits its state and platform', () => {
    const p = plan(
      'FROM --platform=linux/arm64 alpine AS a\nENV X=1\nWORKDIR /w\nUSER u\nARG V=2\nFROM a\nRUN x\n',
    );
    const child = lastStage(p);
    expect(child.platform).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(child.explicitPlatform).toBe(false);
    expect(child.entry.workdir).toBe('/w');
    expect(child.entry.user).toBe('u');
    expect(envOf(child.entry.env, 'X')).toBe('1');
    expect(child.entry.args).toEqual([{ key: 'V', value: '2' }]);
    expect(child.steps[0].context.env).toEqual(
      p.stages[0].steps[3].context.env.concat([{ key: 'V', value: '2' }]),
    );
  });

  test('FROM --platform is expanded with global args and parsed', () => {
    const p = plan('ARG P=linux/arm/v6\nFROM --platform=$P alpine\nFROM --platform=$BUILDPLATFORM alpine\n', {
      buildPlatform: { os: 'linux', architecture: 'arm64' },
    });
    expect(p.stages[0].platform).toEqual({ os: 'linux', architecture: 'arm', variant: 'v6' });
    expect(p.stages[0].explicitPlatform).toBe(true);
    expect(p.stages[1].platform).toEqual({ os: 'linux', architecture: 'arm64' });
  });

  test('scratch ignores FROM --platform', () => {
    const p = plan('FROM --platform=linux/arm64 scratch\n');
    expect(p.stages[0].platform).toEqual(AMD64);
    expect(p.stages[0].explicitPlatform).toBe(false);
  });

  test('a Windows stage runs shell forms with cmd /S /C', () => {
    const s = plan('FROM --platform=windows/amd64 mcr.microsoft.com/windows/nanoserver:ltsc2022\nRUN dir\n')
      .stages[0];
    expect(s.steps[0]).toMatchObject({ argv: ['cmd', '/S', '/C', 'dir'] });
  });

  test('scratch starts with the default PATH, / and root', () => {
    const s = plan('FROM scratch\n').stages[0];
    expect(s.entry).toEqual({
      env: [{ key: 'PATH', value: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' }],
      args: [],
      workdir: '/',
      user: '',
      shell: ['/bin/sh', '-c'],
    });
    expect(s.baseConfigKnown).toBe(true);
  });
});

describe('base image config', () => {
  test('without it an image stage is provisional', () => {
    const p = plan('FROM alpine\nFROM alpine AS b\nFROM b\n');
    expect(p.stages.map((s) => s.baseConfigKnown)).toEqual([false, false, false]);
  });

  test('its Env, WorkingDir, User and Shell seed the stage', () => {
    const seen: string[] = [];
    const p = plan('FROM node:20\nRUN echo $NODE_VERSION\nWORKDIR sub\nENV PATH=$PATH:/x\n', {
      baseImage: (ref, platform) => {
        seen.push(`${ref} ${platform.architecture}`);
        return {
          env: ['PATH=/usr/local/bin:/usr/bin', 'NODE_VERSION=20.1'],
          workingDir: '/srv',
          user: 'node',
          shell: ['/bin/bash', '-c'],
        };
      },
    });
    expect(seen).toEqual(['docker.io/library/node:20 amd64']);
    const s = p.stages[0];
    expect(s.baseConfigKnown).toBe(true);
    expect(s.entry).toEqual({
      env: [
        { key: 'PATH', value: '/usr/local/bin:/usr/bin' },
        { key: 'NODE_VERSION', value: '20.1' },
      ],
      args: [],
      workdir: '/srv',
      user: 'node',
      shell: ['/bin/bash', '-c'],
    });
    expect(s.steps[0]).toMatchObject({ kind: 'run', argv: ['/bin/bash', '-c', 'echo $NODE_VERSION'] });
    expect(s.steps[1]).toMatchObject({ kind: 'workdir', resolved: '/srv/sub' });
    expect(s.steps[2]).toMatchObject({
      kind: 'env',
      vars: [{ key: 'PATH', value: '/usr/local/bin:/usr/bin:/x' }],
    });
  });

  test('an image without PATH gets the default one', () => {
    const p = plan('FROM x\n', { baseImage: () => ({ env: ['A=1'] }) });
    expect(p.stages[0].entry.env.map((e) => e.key)).toEqual(['A', 'PATH']);
  });
});

describe('target and pruning', () => {
  const df = `FROM alpine AS base
FROM base AS deps
FROM alpine AS tools
FROM deps AS build
COPY --from=tools /t /t
FROM alpine AS unrelated
FROM build AS final
`;
  test('the last stage is the target by default, and only what it needs is needed', () => {
    const p = plan(df);
    expect(p.target).toBe(5);
    expect(p.needed).toEqual([0, 1, 2, 3, 5]);
    expect(p.stages.map((s) => s.needed)).toEqual([true, true, true, true, false, true]);
  });

  test('--target picks a stage by name, case-insensitively', () => {
    const p = plan(df, { target: 'DEPS' });
    expect(p.target).toBe(1);
    expect(p.needed).toEqual([0, 1]);
  });

  test('an unknown --target lists the stage names and suggests a close one', () => {
    const err = planError(df, { target: 'buidl' });
    expect(err.message).toBe(
      'target stage "buidl" could not be found (did you mean build?); the stages are: base, deps, tools, build, unrelated, final',
    );
    expect(err.exitCode).toBe(2);
    expect(err.location).toEqual({ file: 'Dockerfile', line: 0 });
  });

  test('an unknown --target with no named stages says so', () => {
    expect(planError('FROM alpine\n', { target: 'x' }).message).toBe(
      'target stage "x" could not be found; no stage has a name (use FROM … AS name)',
    );
  });

  test('dependency edges come from FROM, COPY --from (name or index) and RUN --mount from=', () => {
    const p = plan(`FROM alpine AS a
FROM alpine AS b
FROM alpine AS c
FROM a AS d
COPY --from=1 /x /x
COPY --from=B /y /y
RUN --mount=type=bind,from=c,target=/c true
COPY --from=busybox /bin/sh /sh
`);
    expect(p.stages[3].dependsOn).toEqual([0, 1, 2]);
    expect(p.needed).toEqual([0, 1, 2, 3]);
  });

  test('stages that are not needed are still planned, but their errors only mark them', () => {
    const p = plan(
      'FROM alpine AS broken\nRUN echo ${X:?must be set}\nWORKDIR ${Y:?y}\nFROM alpine\nRUN ok\n',
    );
    expect(p.stages[0].needed).toBe(false);
    expect(p.stages[0].planError).toBe('failed to process "${Y:?y}": Y: y');
    expect(p.stages[0].steps.map((s) => s.kind)).toEqual(['run']);
    expect(p.stages[1].planError).toBeUndefined();
  });
});

describe('global ARGs', () => {
  test('are expanded in FROM and reported with their values', () => {
    const p = plan('ARG REG=ghcr.io\nARG IMG=$REG/o/app\nARG TAG\nFROM ${IMG}:${TAG:-dev}\n', {
      args: { TAG: '1.2' },
    });
    expect(p.stages[0].baseName).toBe('ghcr.io/o/app:1.2');
    expect(p.metaArgs).toEqual([
      { key: 'REG', default: 'ghcr.io', value: 'ghcr.io', line: 1 },
      { key: 'IMG', default: '$REG/o/app', value: 'ghcr.io/o/app', line: 2 },
      { key: 'TAG', value: '1.2', line: 3 },
    ]);
    expect(envOf(p.globalArgs, 'IMG')).toBe('ghcr.io/o/app');
  });

  test('a --build-arg replaces a default without evaluating it', () => {
    const p = plan('ARG V=${NOPE:?never}\nFROM alpine:$V\n', { args: { V: '3' } });
    expect(p.stages[0].baseName).toBe('alpine:3');
  });

  test('the automatic platform args are global', () => {
    const p = plan('FROM alpine AS x\n', {
      platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
      buildPlatform: AMD64,
    });
    expect(p.globalArgs).toEqual([
      { key: 'BUILDPLATFORM', value: 'linux/amd64' },
      { key: 'BUILDOS', value: 'linux' },
      { key: 'BUILDOSVERSION', value: '' },
      { key: 'BUILDARCH', value: 'amd64' },
      { key: 'BUILDVARIANT', value: '' },
      { key: 'TARGETPLATFORM', value: 'linux/arm/v7' },
      { key: 'TARGETOS', value: 'linux' },
      { key: 'TARGETOSVERSION', value: '' },
      { key: 'TARGETARCH', value: 'arm' },
      { key: 'TARGETVARIANT', value: 'v7' },
      { key: 'TARGETSTAGE', value: 'x' },
    ]);
    expect(plan('FROM alpine\n').globalArgs.find((a) => a.key === 'TARGETSTAGE')?.value).toBe('default');
    expect(
      plan('FROM alpine AS a\n', { target: 'A' }).globalArgs.find((a) => a.key === 'TARGETSTAGE')?.value,
    ).toBe('A');
  });

  test('a build arg overrides an automatic arg', () => {
    const p = plan('FROM alpine:$TARGETARCH\n', { args: { TARGETARCH: 'riscv64' } });
    expect(p.stages[0].baseName).toBe('alpine:riscv64');
  });

  test('the platform defaults to this machine', () => {
    const df = parseDockerfile('FROM alpine\n');
    const p = planBuild(df, { fileName: 'Dockerfile', buildArgs: new Map() });
    expect(p.targetPlatform.os).toBe('linux');
    expect(p.targetPlatform.architecture).toBe(
      process.arch === 'x64' ? 'amd64' : p.targetPlatform.architecture,
    );
    expect(p.buildPlatform).toEqual(p.targetPlatform);
  });
});

describe('unused build args', () => {
  test('are the given ones no ARG of a needed stage or the global scope declares', () => {
    const p = plan('ARG G\nFROM alpine AS a\nARG A\nFROM alpine\nARG B\n', {
      args: {
        G: '1',
        A: '2',
        B: '3',
        C: '4',
        HTTP_PROXY: 'p',
        no_proxy: 'n',
        BUILDKIT_INLINE_CACHE: '1',
        TARGETOS: 'linux',
      },
    });
    expect(p.unusedBuildArgs).toEqual(['A', 'C']);
  });
});

describe('expandOnBuildTriggers', () => {
  test('plans again with a base image’s triggers as the stage’s first steps', () => {
    const text = 'FROM onbuild-base AS base\nRUN echo $X\nFROM base\n';
    const df = parseDockerfile(text);
    const opts = {
      fileName: 'Dockerfile',
      buildArgs: new Map<string, string>(),
      platform: AMD64,
      buildPlatform: AMD64,
    };
    const first = planBuild(df, opts);
    expect(first.stages[0].steps.map((s) => s.kind)).toEqual(['run']);
    const again = expandOnBuildTriggers(['ENV X=1', 'COPY . /src'], { df, opts, stage: 0 });
    const s = again.stages[0];
    expect(s.steps.map((st) => [st.kind, st.fromOnBuild, st.line, st.original])).toEqual([
      ['env', true, 1, 'ENV X=1'],
      ['copy', true, 1, 'COPY . /src'],
      ['run', false, 2, 'RUN echo $X'],
    ]);
    expect(envOf(s.steps[2].context.env, 'X')).toBe('1');
    // The triggers do not pass on to a stage built on this one.
    expect(again.stages[1].steps).toEqual([]);
  });
});
