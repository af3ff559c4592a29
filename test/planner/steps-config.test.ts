import { only, steps } from './helpers';

describe('ENV and LABEL', () => {
  test('keys and values are expanded against the environment before the instruction', () => {
    const s = steps('FROM alpine\nENV A=1\nENV A=2 B=$A C="x y" ${A}K=v\n');
    expect(s[1]).toMatchObject({
      kind: 'env',
      vars: [
        { key: 'A', value: '2' },
        { key: 'B', value: '1' },
        { key: 'C', value: 'x y' },
        { key: '1K', value: 'v' },
      ],
      createdBy: 'ENV A=2 B=1 C=x y 1K=v',
    });
  });

  test('the legacy form takes the rest of the line, quotes removed', () => {
    const s = steps('FROM alpine\nENV GREETING "hello  world" again\n');
    expect(only(s, 'env').vars).toEqual([{ key: 'GREETING', value: 'hello  world again' }]);
  });

  test('LABEL expands keys and values, keeps order and duplicates', () => {
    const s = steps(
      'FROM alpine\nARG V=1.0\nLABEL version=$V "org.opencontainers.image.title"="My app" version=2\n',
    );
    expect(only(s, 'label')).toMatchObject({
      labels: [
        { key: 'version', value: '1.0' },
        { key: 'org.opencontainers.image.title', value: 'My app' },
        { key: 'version', value: '2' },
      ],
      createdBy: 'LABEL version=1.0 org.opencontainers.image.title=My app version=2',
    });
  });

  test('the escape directive applies to expansion', () => {
    const s = steps('# escape=`\nFROM alpine\nENV A=`$HOME B=x\\y\n');
    expect(only(s, 'env').vars).toEqual([
      { key: 'A', value: '$HOME' },
      { key: 'B', value: 'x\\y' },
    ]);
  });
});

describe('WORKDIR', () => {
  test('relative paths join the previous working directory', () => {
    const s = steps('FROM alpine\nWORKDIR app\nWORKDIR ../lib/./x/\nWORKDIR /abs/../kept/\nWORKDIR rel\n');
    expect(s.map((st) => (st.kind === 'workdir' ? st.resolved : ''))).toEqual([
      '/app',
      '/lib/x',
      '/abs/../kept/',
      '/kept/rel',
    ]);
    expect(s[0].createdBy).toBe('WORKDIR /app');
    expect(s[3].context.workdir).toBe('/abs/../kept/');
  });

  test('variables and quotes', () => {
    const s = steps('FROM alpine\nENV BASE=/srv\nWORKDIR "$BASE/my app"\n');
    expect(only(s, 'workdir')).toMatchObject({ path: '/srv/my app', resolved: '/srv/my app' });
  });

  test('an empty expansion keeps the current directory', () => {
    const s = steps('FROM alpine\nWORKDIR /a\nWORKDIR $NOTHING\n');
    expect(s[1]).toMatchObject({ path: '', resolved: '/a' });
  });
});

describe('USER, VOLUME, STOPSIGNAL, SHELL, MAINTAINER', () => {
  test('USER is expanded and becomes the state for later steps', () => {
    const s = steps('FROM alpine\nARG UID=1000\nUSER $UID:${GID:-1000}\nRUN id\n');
    expect(s[1]).toMatchObject({ kind: 'user', user: '1000:1000', createdBy: 'USER 1000:1000' });
    expect(s[2].context.user).toBe('1000:1000');
  });

  test('VOLUME in both forms, each item expanded', () => {
    expect(only(steps('FROM alpine\nENV D=/data\nVOLUME $D /logs\n'), 'volume')).toMatchObject({
      volumes: ['/data', '/logs'],
      createdBy: 'VOLUME [/data /logs]',
    });
    expect(only(steps('FROM alpine\nVOLUME ["/a b", "/c"]\n'), 'volume').volumes).toEqual(['/a b', '/c']);
  });

  test('STOPSIGNAL accepts names with or without SIG, any case, and numbers; stored as written', () => {
    for (const sig of ['SIGTERM', 'term', 'SigKill', '9', 'RTMIN+3', 'SIGRTMAX-2']) {
      expect(only(steps(`FROM alpine\nSTOPSIGNAL ${sig}\n`), 'stopsignal')).toMatchObject({
        signal: sig,
        createdBy: `STOPSIGNAL ${sig}`,
      });
    }
    expect(only(steps('FROM alpine\nARG S=SIGQUIT\nSTOPSIGNAL $S\n'), 'stopsignal').signal).toBe('SIGQUIT');
  });

  test('SHELL changes the shell of later shell-form commands', () => {
    const s = steps('FROM alpine\nSHELL ["/bin/bash", "-eo", "pipefail", "-c"]\nRUN echo $0\nCMD run\n');
    expect(s[0]).toMatchObject({ kind: 'shell', createdBy: 'SHELL [/bin/bash -eo pipefail -c]' });
    expect(s[1]).toMatchObject({ argv: ['/bin/bash', '-eo', 'pipefail', '-c', 'echo $0'] });
    expect(s[2]).toMatchObject({ argv: ['/bin/bash', '-eo', 'pipefail', '-c', 'run'] });
    expect(s[1].context.shell).toEqual(['/bin/bash', '-eo', 'pipefail', '-c']);
  });

  test('MAINTAINER is kept verbatim', () => {
    expect(only(steps('FROM alpine\nMAINTAINER Jane $NAME <j@x>\n'), 'maintainer')).toMatchObject({
      maintainer: 'Jane $NAME <j@x>',
      createdBy: 'MAINTAINER Jane $NAME <j@x>',
    });
  });
});

describe('EXPOSE', () => {
  test('ports are expanded, split, normalised and expanded from ranges, in BuildKit’s order', () => {
    const s = steps(
      'FROM alpine\nENV P="8080 9090/udp"\nEXPOSE 80 $P 443/TCP 7000-7002/sctp 127.0.0.1:5000:5000\n',
    );
    const expose = only(s, 'expose');
    // BuildKit sorts the words as written (byte order: `$P` first) before expanding them.
    expect(expose.ports).toEqual([
      '8080/tcp',
      '9090/udp',
      '5000/tcp',
      '443/tcp',
      '7000/sctp',
      '7001/sctp',
      '7002/sctp',
      '80/tcp',
    ]);
    expect(expose.createdBy).toBe(
      'EXPOSE [8080/tcp 9090/udp 5000/tcp 443/tcp 7000/sctp 7001/sctp 7002/sctp 80/tcp]',
    );
  });

  test('IPv6 host addresses and host ranges for one container port are accepted', () => {
    expect(only(steps('FROM alpine\nEXPOSE [::1]:8080:80 8000-8010:80\n'), 'expose').ports).toEqual([
      '80/tcp',
      '80/tcp',
    ]);
  });
});

describe('CMD and ENTRYPOINT', () => {
  test('exec form is kept, shell form is wrapped in the shell, neither is expanded', () => {
    const s = steps('FROM alpine\nENV X=1\nCMD ["echo", "$X"]\nENTRYPOINT exec app --x=$X\n');
    expect(s[1]).toMatchObject({
      kind: 'cmd',
      command: { form: 'exec', args: ['echo', '$X'] },
      argv: ['echo', '$X'],
      createdBy: 'CMD ["echo" "$X"]',
    });
    expect(s[2]).toMatchObject({
      kind: 'entrypoint',
      command: { form: 'shell', script: 'exec app --x=$X' },
      argv: ['/bin/sh', '-c', 'exec app --x=$X'],
      createdBy: 'ENTRYPOINT ["/bin/sh" "-c" "exec app --x=$X"]',
    });
  });

  test('ENTRYPOINT [] clears the entrypoint; CMD [] is an empty command', () => {
    const s = steps('FROM alpine\nENTRYPOINT []\nCMD []\n');
    expect(s[0]).toMatchObject({ argv: null, createdBy: 'ENTRYPOINT []' });
    expect(s[1]).toMatchObject({ argv: [], createdBy: 'CMD []' });
  });

  test('a bare CMD is an empty shell command', () => {
    expect(only(steps('FROM alpine\nCMD\n'), 'cmd').argv).toEqual(['/bin/sh', '-c', '']);
  });
});

describe('HEALTHCHECK', () => {
  test('NONE', () => {
    expect(only(steps('FROM alpine\nHEALTHCHECK NONE\n'), 'healthcheck')).toMatchObject({
      test: ['NONE'],
      interval: 0,
      retries: 0,
      createdBy: 'HEALTHCHECK {Test:[NONE] Interval:0s Timeout:0s StartPeriod:0s StartInterval:0s Retries:0}',
    });
  });

  test('shell form becomes CMD-SHELL, with Go durations', () => {
    const h = only(
      steps(
        'FROM alpine\nHEALTHCHECK --interval=5m --timeout=3s --start-period=1m30s --start-interval=500ms --retries=3 \\\n  CMD curl -f http://localhost/ || exit 1\n',
      ),
      'healthcheck',
    );
    expect(h).toMatchObject({
      test: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'],
      interval: 300e9,
      timeout: 3e9,
      startPeriod: 90e9,
      startInterval: 500e6,
      retries: 3,
      line: 2,
      endLine: 3,
    });
    expect(h.createdBy).toBe(
      'HEALTHCHECK {Test:[CMD-SHELL curl -f http://localhost/ || exit 1] Interval:5m0s Timeout:3s StartPeriod:1m30s StartInterval:500ms Retries:3}',
    );
  });

  test('exec form keeps CMD and the words; durations of 0 mean unset; type is case-insensitive', () => {
    expect(
      only(steps('FROM alpine\nHEALTHCHECK --interval=0s cmd ["wget", "-q", "$URL"]\n'), 'healthcheck'),
    ).toMatchObject({
      test: ['CMD', 'wget', '-q', '$URL'],
      interval: 0,
    });
  });
});

describe('ONBUILD', () => {
  test('stores the trigger as written (keyword case kept), and registers it on the stage', () => {
    const p = steps('FROM alpine\nONBUILD   run echo $X\nONBUILD COPY --from=a . /\n');
    expect(p.map((s) => (s.kind === 'onbuild' ? s.trigger : ''))).toEqual([
      'run echo $X',
      'COPY --from=a . /',
    ]);
    expect(p[0].createdBy).toBeUndefined();
  });

  test('a heredoc trigger carries its body', () => {
    const p = steps('FROM alpine\nONBUILD RUN <<EOF\necho hi\nEOF\n');
    expect(only(p, 'onbuild')).toMatchObject({ trigger: 'RUN <<EOF\necho hi\nEOF', line: 2, endLine: 4 });
  });
});

describe('step context', () => {
  test('each step records the state it runs in, before its own effect', () => {
    const s = steps('FROM alpine\nENV A=1\nWORKDIR /w\nUSER me\nRUN x\n');
    expect(s.map((st) => [st.context.env.length, st.context.workdir, st.context.user])).toEqual([
      [1, '/', ''],
      [2, '/', ''],
      [2, '/w', ''],
      [2, '/w', 'me'],
    ]);
  });

  test('line numbers and original text are the instruction’s', () => {
    const s = steps('FROM alpine\n\n# comment\nRUN echo a \\\n  b\n');
    expect(s[0]).toMatchObject({ line: 4, endLine: 5, original: 'RUN echo a   b', fromOnBuild: false });
  });
});
