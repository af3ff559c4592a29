import { envOf, lastStage, only, plan, steps } from './helpers';

describe('ARG scoping', () => {
  test('a global ARG is visible in FROM but not in the stage', () => {
    const s = steps('ARG V=1\nFROM alpine:$V\nRUN echo $V\nWORKDIR /w$V\n');
    expect(envOf(s[0].context.env, 'V')).toBeUndefined();
    expect(only(s, 'workdir').resolved).toBe('/w');
  });

  test('redeclaring it without a value brings the global value into the stage', () => {
    const s = steps('ARG V=1\nFROM alpine\nARG V\nWORKDIR /w$V\n');
    expect(only(s, 'arg').args).toEqual([{ key: 'V', value: '1', source: 'global' }]);
    expect(only(s, 'workdir').resolved).toBe('/w1');
    expect(s[1].context.args).toEqual([{ key: 'V', value: '1' }]);
  });

  test('a --build-arg overrides the global value and the stage default', () => {
    const s = steps('ARG V=1\nFROM alpine\nARG V\nARG W=def\nRUN x\n', { args: { V: 'cli', W: 'cli-w' } });
    const run = only(s, 'run');
    expect(envOf(run.context.env, 'V')).toBe('cli');
    expect(envOf(run.context.env, 'W')).toBe('cli-w');
    expect(s[1]).toMatchObject({
      kind: 'arg',
      args: [{ key: 'W', default: 'def', value: 'cli-w', source: 'build-arg' }],
    });
  });

  test('a stage default is expanded against the stage environment, one name at a time', () => {
    const s = steps('FROM alpine\nENV E=env\nARG A=$E-a B=${A}-b\nRUN x\n');
    expect(only(s, 'arg').args).toEqual([
      { key: 'A', default: '$E-a', value: 'env-a', source: 'default' },
      { key: 'B', default: '${A}-b', value: 'env-a-b', source: 'default' },
    ]);
  });

  test('a --build-arg value is taken verbatim, never expanded', () => {
    const s = steps('FROM alpine\nARG A\nRUN x\n', { args: { A: '$HOME' } });
    expect(envOf(only(s, 'run').context.env, 'A')).toBe('$HOME');
  });

  test('ARG without value, default or global value is declared but not in the environment', () => {
    const s = steps('FROM alpine\nARG NOPE\nRUN x\n');
    expect(only(s, 'arg').args).toEqual([{ key: 'NOPE', source: 'unset' }]);
    expect(envOf(only(s, 'run').context.env, 'NOPE')).toBeUndefined();
    expect(only(s, 'run').context.args).toEqual([{ key: 'NOPE' }]);
  });

  test('ENV overrides an ARG of the same name for later steps', () => {
    const s = steps('FROM alpine\nARG V=arg\nENV V=env\nRUN echo\n', { args: { V: 'cli' } });
    const run = only(s, 'run');
    expect(envOf(run.context.env, 'V')).toBe('env');
    expect(run.createdBy).toBe('RUN |1 V=env /bin/sh -c echo # buildkit');
  });

  test('an ARG after ENV of the same name takes over the value', () => {
    const s = steps('FROM alpine\nENV V=env\nARG V=arg\nRUN echo\n');
    expect(envOf(only(s, 'run').context.env, 'V')).toBe('arg');
  });

  test('the automatic platform args need ARG in the stage too', () => {
    const s = steps('FROM alpine\nRUN a\nARG TARGETARCH TARGETPLATFORM\nRUN b\n', {
      platform: { os: 'linux', architecture: 'arm64' },
    });
    expect(envOf(s[0].context.env, 'TARGETARCH')).toBeUndefined();
    expect(envOf(s[2].context.env, 'TARGETARCH')).toBe('arm64');
    expect(envOf(s[2].context.env, 'TARGETPLATFORM')).toBe('linux/arm64');
  });

  test('ARGs are per stage, but a child stage inherits its parent’s', () => {
    const p = plan('FROM alpine AS a\nARG X=1\nFROM alpine AS b\nRUN b\nFROM a\nRUN c\n');
    expect(envOf(p.stages[1].steps[0].context.env, 'X')).toBeUndefined();
    expect(envOf(lastStage(p).steps[0].context.env, 'X')).toBe('1');
    expect(lastStage(p).steps[0].context.args).toEqual([{ key: 'X', value: '1' }]);
  });

  test('the effective environment keeps BuildKit’s order: a name set again moves to the end', () => {
    const s = steps('FROM alpine\nENV A=1 B=2\nARG A=3\nRUN x\n');
    expect(only(s, 'run').context.env.map((e) => e.key)).toEqual(['PATH', 'B', 'A']);
  });

  test('redeclaring an ARG keeps its place in the scope and takes the new value', () => {
    const s = steps('FROM alpine\nARG A=1\nARG B=2\nARG A=3\nARG A\nRUN x\n');
    const run = only(s, 'run');
    expect(run.context.args).toEqual([
      { key: 'A', value: '3' },
      { key: 'B', value: '2' },
    ]);
    expect(run.createdBy).toBe('RUN |2 A=3 B=2 /bin/sh -c x # buildkit');
  });

  test('the SBOM scan args are declared but never enter the environment', () => {
    const s = steps('FROM alpine\nARG BUILDKIT_SBOM_SCAN_STAGE=true\nRUN x\n');
    expect(envOf(only(s, 'run').context.env, 'BUILDKIT_SBOM_SCAN_STAGE')).toBeUndefined();
    expect(only(s, 'run').context.args).toEqual([{ key: 'BUILDKIT_SBOM_SCAN_STAGE', value: 'true' }]);
  });

  test('proxy build args reach RUN without ARG, outside the environment and history', () => {
    const s = steps('FROM alpine\nRUN curl x\n', {
      args: { https_proxy: 'http://p:3128', NO_PROXY: 'local' },
    });
    const run = only(s, 'run');
    expect(run.proxyEnv).toEqual([
      { key: 'HTTPS_PROXY', value: 'http://p:3128' },
      { key: 'https_proxy', value: 'http://p:3128' },
      { key: 'NO_PROXY', value: 'local' },
      { key: 'no_proxy', value: 'local' },
    ]);
    expect(envOf(run.context.env, 'https_proxy')).toBeUndefined();
    expect(run.createdBy).toBe('RUN /bin/sh -c curl x # buildkit');
  });

  test('a declared proxy ARG is in the environment and history too', () => {
    const s = steps('FROM alpine\nARG HTTP_PROXY\nRUN curl x\n', { args: { HTTP_PROXY: 'http://p' } });
    const run = only(s, 'run');
    expect(envOf(run.context.env, 'HTTP_PROXY')).toBe('http://p');
    expect(run.createdBy).toBe('RUN |1 HTTP_PROXY=http://p /bin/sh -c curl x # buildkit');
  });
});
