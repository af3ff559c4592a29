import { only, plan, steps } from './helpers';

describe('RUN command', () => {
  test('shell form is wrapped, never expanded; exec form is kept', () => {
    const s = steps('FROM alpine\nENV X=1\nRUN echo $X\nRUN ["echo", "$X"]\n');
    expect(s[1]).toMatchObject({
      command: { form: 'shell', script: 'echo $X' },
      argv: ['/bin/sh', '-c', 'echo $X'],
      createdBy: 'RUN /bin/sh -c echo $X # buildkit',
    });
    expect(s[2]).toMatchObject({ command: { form: 'exec', args: ['echo', '$X'] }, argv: ['echo', '$X'] });
  });

  test('history lists the ARGs in scope as BuildKit does', () => {
    const s = steps('FROM alpine\nARG A=1\nARG B\nRUN make\n', { args: { B: 'two words' } });
    expect(only(s, 'run').createdBy).toBe('RUN |2 A=1 B=two words /bin/sh -c make # buildkit');
  });

  test('the effective environment is ENV plus the ARGs in scope', () => {
    const run = only(steps('FROM alpine\nENV E=1\nARG A=2\nRUN x\n'), 'run');
    expect(run.context.env).toEqual([
      { key: 'PATH', value: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
      { key: 'E', value: '1' },
      { key: 'A', value: '2' },
    ]);
  });

  test('defaults: default network, sandbox, no mounts, no devices', () => {
    expect(only(steps('FROM alpine\nRUN x\n'), 'run')).toMatchObject({
      network: 'default',
      security: 'sandbox',
      mounts: [],
      devices: [],
      heredocs: [],
      inlineFiles: [],
      proxyEnv: [],
    });
  });

  test('--network and --security', () => {
    expect(only(steps('FROM alpine\nRUN --network=none --security=insecure x\n'), 'run')).toMatchObject({
      network: 'none',
      security: 'insecure',
    });
    expect(only(steps('FROM alpine\nRUN --network=host x\n'), 'run').network).toBe('host');
  });

  test('--device', () => {
    expect(
      only(steps('FROM alpine\nRUN --device=vendor.com/gpu=all,required --device=name=x x\n'), 'run').devices,
    ).toEqual([
      { name: 'vendor.com/gpu=all', required: true },
      { name: 'x', required: false },
    ]);
  });
});

describe('RUN heredocs', () => {
  test('a lone heredoc runs its body in the shell', () => {
    const run = only(steps('FROM alpine\nRUN <<EOF\necho $HOME\nEOF\n'), 'run');
    expect(run.argv).toEqual(['/bin/sh', '-c', 'echo $HOME\n']);
    expect(run.heredocs).toEqual([
      {
        name: 'EOF',
        fileDescriptor: 0,
        content: 'echo $HOME\n',
        rawContent: 'echo $HOME\n',
        chomp: false,
        expand: true,
      },
    ]);
    expect(run.endLine).toBe(4);
  });

  test('<<- strips leading tabs', () => {
    const run = only(steps("FROM alpine\nRUN <<-'EOT'\n\techo a\n\t\techo b\n\tEOT\n"), 'run');
    expect(run.argv[2]).toBe('echo a\necho b\n');
    expect(run.heredocs[0]).toMatchObject({
      chomp: true,
      expand: false,
      rawContent: '\techo a\n\t\techo b\n',
    });
  });

  test('a #! body becomes a file in /dev/pipes', () => {
    const run = only(steps('FROM alpine\nRUN <<PY\n#!/usr/bin/env python3\nprint(1)\nPY\n'), 'run');
    expect(run.argv).toEqual(['/bin/sh', '-c', '/dev/pipes/PY']);
    expect(run.inlineFiles).toEqual([
      { path: '/dev/pipes/PY', content: '#!/usr/bin/env python3\nprint(1)\n', mode: 0o755 },
    ]);
  });

  test('anything else is handed to the shell with the bodies re-attached', () => {
    const run = only(steps('FROM alpine\nRUN python3 <<A && cat <<B\nprint(1)\nA\nhello\nB\n'), 'run');
    expect(run.argv).toEqual(['/bin/sh', '-c', 'python3 <<A && cat <<B\nprint(1)\nA\nhello\nB']);
    expect(run.heredocs.map((h) => h.name)).toEqual(['A', 'B']);
  });
});

describe('RUN --mount', () => {
  test('bind: the context by default, read-only, target joined to the working directory', () => {
    const run = only(
      steps('FROM alpine\nWORKDIR /src\nRUN --mount=target=node_modules,source=deps/ x\n'),
      'run',
    );
    expect(run.mounts).toEqual([
      { type: 'bind', target: '/src/node_modules', source: '/deps', readOnly: true },
    ]);
  });

  test('bind from a stage or an image, read-write', () => {
    const p = plan(
      'FROM alpine AS build\nFROM alpine\nRUN --mount=from=build,target=/b,rw --mount=from=busybox,dst=/bb,ro=false x\n',
    );
    expect(only(p.stages[1].steps, 'run').mounts).toEqual([
      { type: 'bind', target: '/b', source: '/', readOnly: false, from: { kind: 'stage', index: 0 } },
      {
        type: 'bind',
        target: '/bb',
        source: '/',
        readOnly: false,
        from: { kind: 'image', ref: 'busybox', normalized: 'docker.io/library/busybox:latest' },
      },
    ]);
    expect(p.stages[1].dependsOn).toEqual([0]);
  });

  test('cache: writable, shared, id from the target as written', () => {
    const run = only(
      steps(
        'FROM alpine\nWORKDIR /w\nRUN --mount=type=cache,target=./cache/ --mount=type=cache,id=go,target=/go,sharing=LOCKED,mode=0700,uid=1000,gid=1000 x\n',
      ),
      'run',
    );
    expect(run.mounts).toEqual([
      { type: 'cache', target: '/w/cache', id: 'cache', sharing: 'shared', source: '/', readOnly: false },
      {
        type: 'cache',
        target: '/go',
        id: 'go',
        sharing: 'locked',
        source: '/',
        readOnly: false,
        mode: 0o700,
        uid: 1000,
        gid: 1000,
      },
    ]);
  });

  test('tmpfs with a size', () => {
    const run = only(
      steps('FROM alpine\nRUN --mount=type=tmpfs,target=/tmp,size=64m --mount=type=tmpfs,dst=/t2 x\n'),
      'run',
    );
    expect(run.mounts).toEqual([
      { type: 'tmpfs', target: '/tmp', size: 64 * 1024 * 1024 },
      { type: 'tmpfs', target: '/t2' },
    ]);
  });

  test('secret: id from source, id or the target’s name; default target and mode', () => {
    const run = only(
      steps(
        'FROM alpine\nRUN --mount=type=secret,id=npmrc --mount=type=secret,source=aws,target=/root/.aws/credentials,required,mode=0440,uid=1 --mount=type=secret,target=/run/secrets/token --mount=type=secret,id=TOKEN,env=TOKEN x\n',
      ),
      'run',
    );
    expect(run.mounts).toEqual([
      {
        type: 'secret',
        id: 'npmrc',
        target: '/run/secrets/npmrc',
        required: false,
        mode: 0o400,
        uid: 0,
        gid: 0,
      },
      {
        type: 'secret',
        id: 'aws',
        target: '/root/.aws/credentials',
        required: true,
        mode: 0o440,
        uid: 1,
        gid: 0,
      },
      {
        type: 'secret',
        id: 'token',
        target: '/run/secrets/token',
        required: false,
        mode: 0o400,
        uid: 0,
        gid: 0,
      },
      { type: 'secret', id: 'TOKEN', env: 'TOKEN', required: false, mode: 0o400, uid: 0, gid: 0 },
    ]);
  });

  test('ssh: default id and mode', () => {
    const run = only(
      steps('FROM alpine\nRUN --mount=type=ssh --mount=type=ssh,id=gh,target=/sock,required=true x\n'),
      'run',
    );
    expect(run.mounts).toEqual([
      { type: 'ssh', id: 'default', required: false, mode: 0o600, uid: 0, gid: 0 },
      { type: 'ssh', id: 'gh', target: '/sock', required: true, mode: 0o600, uid: 0, gid: 0 },
    ]);
  });

  test('mount values are expanded against the stage environment; keys and types are case-insensitive', () => {
    const run = only(
      steps('FROM alpine\nARG CACHE=/root/.cache\nRUN --mount=TYPE=Cache,Target=$CACHE,id=${CACHE}-x x\n'),
      'run',
    );
    expect(run.mounts).toEqual([
      {
        type: 'cache',
        target: '/root/.cache',
        id: '/root/.cache-x',
        sharing: 'shared',
        source: '/',
        readOnly: false,
      },
    ]);
  });

  test('quoted CSV fields may hold commas', () => {
    const run = only(steps('FROM alpine\nRUN --mount=\'type=bind,"target=/a,b"\' x\n'), 'run');
    expect(run.mounts).toEqual([{ type: 'bind', target: '/a,b', source: '/', readOnly: true }]);
  });
});
