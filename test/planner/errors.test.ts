import { plan, planError } from './helpers';

/** [Dockerfile, message, line] — each must fail planning with exactly that message at that line. */
const cases: [string, string, number][] = [
  // Instructions and their arguments
  ['FROM alpine\n\nCOPPY a b\n', 'unknown instruction: COPPY (did you mean COPY?)', 3],
  ['FROM alpine\ncoppy a b\n', 'unknown instruction: coppy (did you mean copy?)', 2],
  ['FROM alpine\nWorkDri /x\n', 'unknown instruction: WorkDri (did you mean workdir?)', 2],
  ['FROM alpine\nFROBNICATE x\n', 'unknown instruction: FROBNICATE', 2],
  ['RUN echo\nFROM alpine\n', 'no build stage in current context', 1],
  ['ARG A\nENV B=1\nFROM alpine\n', 'no build stage in current context', 2],
  [
    'FROM alpine\nCOPY onlyone\n',
    'COPY requires at least two arguments, but only one was provided. Destination could not be determined',
    2,
  ],
  [
    'FROM alpine\nADD onlyone\n',
    'ADD requires at least two arguments, but only one was provided. Destination could not be determined',
    2,
  ],
  ['FROM alpine\nENV =x\n', 'ENV names can not be blank', 2],
  ['FROM alpine\nLABEL =x\n', 'LABEL names can not be blank', 2],
  ['FROM alpine\nENV\n', 'ENV requires at least one argument', 2],
  ['FROM alpine\nLABEL\n', 'LABEL requires at least one argument', 2],
  ['FROM alpine\nWORKDIR\n', 'WORKDIR requires exactly one argument', 2],
  ['FROM alpine\nUSER\n', 'USER requires exactly one argument', 2],
  ['FROM alpine\nMAINTAINER\n', 'MAINTAINER requires exactly one argument', 2],
  ['FROM alpine\nSTOPSIGNAL\n', 'STOPSIGNAL requires exactly one argument', 2],
  ['FROM alpine\nEXPOSE\n', 'EXPOSE requires at least one argument', 2],
  ['FROM alpine\nVOLUME\n', 'VOLUME requires at least one argument', 2],
  ['FROM alpine\nVOLUME ["/a", " "]\n', 'VOLUME specified can not be an empty string', 2],
  ['FROM alpine\nARG\n', 'ARG requires at least one argument', 2],
  ['FROM alpine\nARG =v\n', 'ARG names can not be blank', 2],
  ['FROM alpine\nONBUILD\n', 'ONBUILD requires at least one argument', 2],
  ['FROM alpine\nHEALTHCHECK\n', 'HEALTHCHECK requires at least one argument', 2],
  ['FROM alpine\nSHELL /bin/bash -c\n', 'SHELL requires the arguments to be in JSON form', 2],
  ['FROM alpine\nSHELL []\n', 'SHELL requires at least one argument', 2],
  ['FROM\n', 'FROM requires either one or three arguments', 1],
  ['FROM alpine AS\n', 'FROM requires either one or three arguments', 1],
  ['FROM alpine TO x\n', 'FROM requires either one or three arguments', 1],
  [
    'FROM alpine AS 1st\n',
    'invalid name for build stage: "1st", name can\'t start with a number or contain symbols',
    1,
  ],
  [
    'FROM alpine AS my/stage\n',
    'invalid name for build stage: "my/stage", name can\'t start with a number or contain symbols',
    1,
  ],
  ['FROM alpine AS a\nRUN x\nFROM alpine AS A\n', 'duplicate stage name "a", first defined on line 1', 3],
  ['FROM $NOPE\n', 'base name ($NOPE) should not be blank', 1],
  [
    'FROM Alpine\n',
    'failed to parse stage name "Alpine": invalid reference format: repository name (library/Alpine) must be lowercase',
    1,
  ],
  // A FROM names a stage only with the exact (lower-case) name; `Build` is then an image reference.
  [
    'FROM alpine AS Build\nFROM Build\n',
    'failed to parse stage name "Build": invalid reference format: repository name (library/Build) must be lowercase',
    2,
  ],
  ['FROM alpine AS a\nFROM a:b::c\n', 'failed to parse stage name "a:b::c": invalid reference format', 2],
  ['FROM ${X:?X_must_be_set}\n', 'failed to process "${X:?X_must_be_set}": X: X_must_be_set', 1],
  ['FROM ${X:?X must be set}\n', 'FROM requires either one or three arguments', 1],
  [
    'FROM --platform=linux/x/y/z alpine\n',
    'failed to parse platform linux/x/y/z: "linux/x/y/z": unknown operating system or architecture: invalid argument',
    1,
  ],
  ['FROM --platform=$NOPE alpine\n', 'empty platform value from expression $NOPE', 1],
  [
    'FROM --platform=foo alpine\n',
    'failed to parse platform foo: "foo": unknown operating system or architecture: invalid argument',
    1,
  ],
  ['ARG V=${A:?need_A}\nFROM alpine\n', 'failed to process "${A:?need_A}": A: need_A', 1],
  ['ARG V=${A:?need A}\nFROM alpine\n', 'failed to process "${A:?need": syntax error: missing \'}\'', 1],
  // Flags
  ['FROM alpine\nCOPY --form=a x y\n', 'unknown flag: --form (did you mean from?)', 2],
  ['FROM alpine\nADD --from=a x y\n', 'unknown flag: --from', 2],
  ['FROM alpine\nADD --parents x y\n', 'unknown flag: --parents', 2],
  ['FROM alpine\nCOPY --checksum=sha256:x x y\n', 'unknown flag: --checksum', 2],
  ['FROM alpine\nRUN --mout=type=cache,target=/x true\n', 'unknown flag: --mout (did you mean mount?)', 2],
  ['FROM alpine\nENV --x=1 A=b\n', 'unknown flag: --x', 2],
  ['FROM --plaform=linux/amd64 alpine\n', 'unknown flag: --plaform (did you mean platform?)', 1],
  ['FROM alpine\nCOPY --chown=a --chown=b x y\n', 'duplicate flag specified: --chown', 2],
  ['FROM alpine\nCOPY --link=yes x y\n', 'expecting boolean value for flag --link, not: yes', 2],
  ['FROM alpine\nCOPY --link= x y\n', 'missing a value on flag: --link', 2],
  ['FROM alpine\nRUN --network\n', 'missing a value on flag: --network', 2],
  ['FROM alpine\nRUN --network=bridge true\n', 'invalid network mode "bridge"', 2],
  ['FROM alpine\nRUN --security=privileged true\n', 'security "privileged" is not valid', 2],
  ['FROM alpine\nONBUILD --x RUN y\n', 'unknown flag: --x', 2],
  // HEALTHCHECK
  ['FROM alpine\nHEALTHCHECK NONE x\n', 'HEALTHCHECK NONE takes no arguments', 2],
  ['FROM alpine\nHEALTHCHECK WGET x\n', 'Unknown type "WGET" in HEALTHCHECK (try CMD)', 2],
  ['FROM alpine\nHEALTHCHECK CMD\n', 'Missing command after HEALTHCHECK CMD', 2],
  ['FROM alpine\nHEALTHCHECK --interval=5 CMD x\n', 'time: missing unit in duration "5"', 2],
  ['FROM alpine\nHEALTHCHECK --timeout=1d CMD x\n', 'time: unknown unit "d" in duration "1d"', 2],
  ['FROM alpine\nHEALTHCHECK --start-period=abc CMD x\n', 'time: invalid duration "abc"', 2],
  ['FROM alpine\nHEALTHCHECK --interval=500us CMD x\n', 'Interval "interval" cannot be less than 1ms', 2],
  [
    'FROM alpine\nHEALTHCHECK --start-interval=-1s CMD x\n',
    'Interval "start-interval" cannot be less than 1ms',
    2,
  ],
  ['FROM alpine\nHEALTHCHECK --retries=x CMD y\n', 'strconv.ParseInt: parsing "x": invalid syntax', 2],
  [
    'FROM alpine\nHEALTHCHECK --retries=99999999999 CMD y\n',
    'strconv.ParseInt: parsing "99999999999": value out of range',
    2,
  ],
  ['FROM alpine\nHEALTHCHECK --retries=-1 CMD y\n', '--retries cannot be negative (-1)', 2],
  ['FROM alpine\nHEALTHCHECK --retires=1 CMD y\n', 'unknown flag: --retires (did you mean retries?)', 2],
  // ONBUILD
  ['FROM alpine\nONBUILD ONBUILD RUN x\n', "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", 2],
  ['FROM alpine\nONBUILD from alpine\n', "FROM isn't allowed as an ONBUILD trigger", 2],
  ['FROM alpine\nONBUILD MAINTAINER me\n', "MAINTAINER isn't allowed as an ONBUILD trigger", 2],
  // Stage references
  [
    'FROM alpine\nCOPY --from=$X a b\n',
    'variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround',
    2,
  ],
  ['FROM alpine\nCOPY --from=7 a b\n', 'invalid stage index 7', 2],
  ['FROM alpine\nCOPY --from=-1 a b\n', 'invalid stage index -1', 2],
  ['FROM alpine AS a\nCOPY --from=a /x /y\n', 'circular dependency detected on stage: a', 2],
  [
    'FROM alpine AS a\nRUN x\nCOPY --from=b /x /y\nFROM alpine AS b\nCOPY --from=a /x /y\n',
    'circular dependency detected on stage: a',
    3,
  ],
  [
    'FROM alpine AS a\nCOPY --from=b /x /y\nFROM alpine AS b\nFROM a\n',
    'cannot copy from stage "b", it needs to be defined before current stage "a"',
    2,
  ],
  [
    'FROM alpine AS first\nCOPY --from=1 /x /y\nFROM alpine\nFROM first\n',
    'cannot copy from stage "1", it needs to be defined before current stage "first"',
    2,
  ],
  ['FROM alpine\nCOPY --from=0 /x /y\n', 'circular dependency detected on stage: stage-0', 2],
  [
    'FROM alpine AS a\nRUN --mount=from=b,target=/b true\nFROM alpine AS b\nFROM a\n',
    'cannot mount from stage "b", it needs to be defined before current stage "a"',
    2,
  ],
  ['FROM alpine AS a\nRUN --mount=from=a,target=/b true\n', 'circular dependency detected on stage: a', 2],
  [
    'FROM alpine\nCOPY --from=Bad_Image x y\n',
    'failed to parse stage name "Bad_Image": invalid reference format: repository name (library/Bad_Image) must be lowercase',
    2,
  ],
  // Expansion
  [
    'FROM alpine\nWORKDIR ${DIR:?DIR is required}\n',
    'failed to process "${DIR:?DIR is required}": DIR: DIR is required',
    2,
  ],
  ['FROM alpine\nENV A=${B?}\n', 'failed to process "${B?}": B: is not allowed to be unset', 2],
  ['FROM alpine\nARG A=${B:?no_B}\n', 'failed to process "${B:?no_B}": B: no_B', 2],
  ['FROM alpine\nCOPY a ${D:?dest}\n', 'failed to process "${D:?dest}": D: dest', 2],
  ['FROM alpine\nUSER ${U:?who}\n', 'failed to process "${U:?who}": U: who', 2],
  ['FROM alpine\nLABEL a=${L:?l}\n', 'failed to process "${L:?l}": L: l', 2],
  ['FROM alpine\nRUN --mount=type=cache,target=${T:?t} true\n', 'failed to process "${T:?t}": T: t', 2],
  // COPY / ADD
  [
    'FROM alpine\nCOPY --chmod=64a a b\n',
    "invalid chmod parameter: '64a'. it should be octal string and between 0 and 07777",
    2,
  ],
  [
    'FROM alpine\nADD --chmod=10000 a b\n',
    "invalid chmod parameter: '10000'. it should be octal string and between 0 and 07777",
    2,
  ],
  ['FROM alpine\nCOPY --chmod=zz a b\n', "invalid chmod parameter: 'zz': invalid syntax", 2],
  ['FROM alpine\nCOPY --chmod=u+x, a b\n', "invalid chmod parameter: 'u+x,': invalid syntax", 2],
  ['FROM alpine\nCOPY https://example.com/a.txt /a\n', "source can't be a URL for COPY", 2],
  ['FROM alpine\nCOPY https://github.com/o/r.git /r\n', "source can't be a git ref for COPY", 2],
  ['FROM alpine\nCOPY git@github.com:o/r.git /r\n', "source can't be a git ref for COPY", 2],
  ['FROM alpine\nADD --checksum=sha256:abc a b /c/\n', "checksum can't be specified for multiple sources", 2],
  ['FROM alpine\nADD --checksum=sha256:abc a /c\n', 'checksum requires HTTP(S) or Git sources', 2],
  // RUN --mount
  ['FROM alpine\nRUN --mount=type=foo true\n', 'unsupported mount type "foo"', 2],
  [
    'FROM alpine\nRUN --mount=type=cahce,target=/c true\n',
    'unsupported mount type "cahce" (did you mean cache?)',
    2,
  ],
  ['FROM alpine\nRUN --mount=typ=bind true\n', "unexpected key 'typ' in 'typ=bind' (did you mean type?)", 2],
  ['FROM alpine\nRUN --mount=type=bind,foo true\n', "invalid field 'foo' must be a key=value pair", 2],
  ['FROM alpine\nRUN --mount=type=secret true\n', 'invalid secret mount. one of source, target required', 2],
  ['FROM alpine\nRUN --mount=type=secret,id=a,source=b true\n', "both source and id can't be set", 2],
  ['FROM alpine\nRUN --mount=type=secret,id=a,from=x true\n', 'secret mount should not have a from', 2],
  [
    'FROM alpine\nRUN --mount=type=secret,id=a,sharing=locked true\n',
    'secret mount should not define sharing',
    2,
  ],
  ['FROM alpine\nRUN --mount=target=/x,sharing=locked true\n', 'invalid cache sharing set for bind mount', 2],
  [
    'FROM alpine\nRUN --mount=type=cache,target=/x,sharing=exclusive true\n',
    'unsupported sharing value "exclusive"',
    2,
  ],
  ['FROM alpine\nRUN --mount=target=/x,mode=0755 true\n', 'mode not allowed for "bind" type mounts', 2],
  [
    'FROM alpine\nRUN --mount=type=tmpfs,target=/x,uid=1 true\n',
    'uid not allowed for "tmpfs" type mounts',
    2,
  ],
  ['FROM alpine\nRUN --mount=type=cache,target=/x,mode=999 true\n', 'invalid value 999 for mode', 2],
  ['FROM alpine\nRUN --mount=type=cache,target=/x,uid=-1 true\n', 'invalid value -1 for uid', 2],
  ['FROM alpine\nRUN --mount=target=/x,size=1m true\n', "unexpected key 'size' for mount type 'bind'", 2],
  ['FROM alpine\nRUN --mount=type=tmpfs,target=/x,size=huge true\n', 'invalid value for size: huge', 2],
  [
    'FROM alpine\nRUN --mount=type=cache,target=/x,required true\n',
    "unexpected key 'required' for mount type 'cache'",
    2,
  ],
  ['FROM alpine\nRUN --mount=target=/x,ro=maybe true\n', 'invalid value for ro: maybe', 2],
  [
    'FROM alpine\nRUN --mount=from=$X,target=/x true\n',
    "'from' doesn't support variable expansion, define alias stage instead",
    2,
  ],
  ['FROM alpine\nRUN --mount=type=bind,target=/ true\n', 'invalid mount target "/"', 2],
  ['FROM alpine\nRUN --mount=type=bind true\n', 'invalid mount target "/"', 2],
  [
    "FROM alpine\nRUN --mount='type=bind,\"target=/a' true\n",
    'failed to parse csv mounts: parse error on line 1, column 21: extraneous or missing " in quoted-field',
    2,
  ],
  ['FROM alpine\nRUN --device=a,b true\n', "invalid field 'b' must be a key=value pair", 2],
  // Other values
  ['FROM alpine\nEXPOSE 80/xyz\n', 'invalid proto: xyz', 2],
  ['FROM alpine\nEXPOSE http\n', 'invalid containerPort: http', 2],
  ['FROM alpine\nEXPOSE 90-80\n', 'invalid containerPort: 90-80', 2],
  ['FROM alpine\nEXPOSE 70000\n', 'invalid containerPort: 70000', 2],
  ['FROM alpine\nEXPOSE 1.2.3:80:80\n', 'invalid IP address: 1.2.3', 2],
  [
    'FROM alpine\nEXPOSE 8000-8002:80-81\n',
    'invalid ranges specified for container and host Ports: 80-81 and 8000-8002',
    2,
  ],
  ['FROM alpine\nSTOPSIGNAL SIGFOO\n', 'invalid signal: SIGFOO', 2],
  ['FROM alpine\nSTOPSIGNAL 0\n', 'invalid signal: 0', 2],
  ['FROM alpine\nARG S=\nSTOPSIGNAL $S\n', 'invalid signal: ', 3],
  ['FROM alpine\nENV E=\nVOLUME $E\n', 'VOLUME specified can not be an empty string', 3],
];

describe('planning errors', () => {
  test.each(cases)('%j → %s', (text, message, line) => {
    const err = planError(text);
    expect(err.message).toBe(message);
    expect(err.location?.line).toBe(line);
    expect(err.location?.file).toBe('Dockerfile');
    expect(err.exitCode).toBe(2);
  });

  test('the formatted error quotes the instruction, all its lines', () => {
    const err = planError('FROM alpine\nRUN --mount=type=nope \\\n    echo hi\n');
    expect(err.format()).toBe(
      'Dockerfile:2: unsupported mount type "nope"\n 2 | RUN --mount=type=nope \\\n 3 |     echo hi',
    );
    expect(err.location?.endLine).toBe(3);
  });

  test('the example from the brief', () => {
    expect(planError('FROM alpine\nRUN x\nCOPPY a b\n').format()).toBe(
      'Dockerfile:3: unknown instruction: COPPY (did you mean COPY?)\n 3 | COPPY a b',
    );
  });

  test('the file name given is the one reported', () => {
    const err = planError('FROM alpine\nFOO\n', { fileName: 'build/app.Dockerfile' });
    expect(err.format()).toMatch(/^build\/app\.Dockerfile:2: unknown instruction: FOO/);
  });

  test('without the source lines, the instruction text is quoted', () => {
    const err = planError('FROM alpine\nUSER\n', { lines: undefined });
    expect(err.location?.text).toBe('USER');
  });

  test('a file with only global ARGs has no stages', () => {
    const err = planError('ARG A=1\n');
    expect(err.message).toBe('dockerfile contains no stages to build');
    expect(err.location).toEqual({ file: 'Dockerfile', line: 0 });
  });

  test('the first bad instruction in file order is the one reported', () => {
    expect(planError('FROM alpine\nUSER\nWORKDIR\n').message).toBe('USER requires exactly one argument');
  });

  test('errors in instructions of stages that are not built still fail the build (BuildKit parses all)', () => {
    expect(planError('FROM alpine AS unused\nCOPY x\nFROM alpine\n').message).toMatch(
      /^COPY requires at least two/,
    );
  });

  test('dispatch errors in stages that are not built do not fail the build', () => {
    expect(() => plan('FROM alpine AS unused\nCOPY --from=later a b\nFROM alpine AS later\n')).not.toThrow();
    expect(() => plan('FROM alpine AS unused\nEXPOSE nope\nFROM alpine\n')).not.toThrow();
  });

  test('flags BuildKit never reads are ignored (STOPSIGNAL, ARG, HEALTHCHECK NONE)', () => {
    expect(() => plan('FROM alpine\nSTOPSIGNAL --x=1 TERM\nARG --y A\nHEALTHCHECK --z NONE\n')).not.toThrow();
  });

  test('MAINTAINER is deprecated but fine', () => {
    expect(() => plan('FROM alpine\nMAINTAINER me <me@example.com>\n')).not.toThrow();
  });

  test('exponential ARG expansion stops at a bound with the line instead of exhausting memory', () => {
    const lines = ['FROM alpine', 'ARG A0=0123456789abcdef'];
    for (let k = 1; k <= 40; k++) lines.push(`ARG A${k}=\${A${k - 1}}\${A${k - 1}}`);
    const err = planError(`${lines.join('\n')}\n`);
    expect(err.message).toBe(
      'failed to process "${A16}${A16}": the expansion is longer than 1048576 characters',
    );
    expect(err.location?.line).toBe(19);
  });
});
