import { mountFromAtParse, parseDevice, parseMount, ramInBytes } from '../../src/planner/mounts';

const id = (w: string): string => w;

describe('parseMount', () => {
  test('defaults: a read-only bind', () => {
    expect(parseMount('target=/x', id)).toEqual({
      type: 'bind',
      from: '',
      source: '',
      target: '/x',
      readOnly: true,
      cacheId: '',
      required: false,
    });
  });

  test('cache and tmpfs are writable unless told otherwise', () => {
    expect(parseMount('type=cache,target=/c', id).readOnly).toBe(false);
    expect(parseMount('type=cache,target=/c,ro', id).readOnly).toBe(true);
    expect(parseMount('type=tmpfs,target=/t', id).readOnly).toBe(false);
    expect(parseMount('type=bind,target=/b,rw=true', id).readOnly).toBe(false);
    expect(parseMount('type=bind,target=/b,readwrite', id).readOnly).toBe(false);
    expect(parseMount('type=bind,target=/b,readonly=false', id).readOnly).toBe(false);
  });

  test('aliases and values', () => {
    expect(
      parseMount('type=cache,src=/s,dst=/d,id=x,sharing=private,mode=0755,uid=1,gid=2', id),
    ).toMatchObject({
      source: '/s',
      target: '/d',
      cacheId: 'x',
      sharing: 'private',
      mode: 0o755,
      uid: 1,
      gid: 2,
    });
    expect(parseMount('type=tmpfs,destination=/t,size=1.5g', id)).toMatchObject({
      target: '/t',
      sizeLimit: 1610612736,
    });
    expect(parseMount('type=secret,id=s,env=TOKEN,required=true', id)).toMatchObject({
      env: 'TOKEN',
      required: true,
    });
    expect(parseMount('type=ssh,required', id)).toMatchObject({
      type: 'ssh',
      required: true,
      readOnly: true,
    });
  });

  test('every value goes through the expander, keys never', () => {
    const seen: string[] = [];
    parseMount('type=cache,target=$T', (w) => {
      seen.push(w);
      return w === '$T' ? '/t' : w;
    });
    expect(seen).toEqual(['cache', '$T']);
  });

  test('`required` is checked against the type known so far', () => {
    expect(() => parseMount('required,type=secret,id=x', id)).toThrow(
      "unexpected key 'required' for mount type 'bind'",
    );
  });
});

test('mountFromAtParse', () => {
  expect(mountFromAtParse('type=bind,from=build,target=/x')).toBe('build');
  expect(mountFromAtParse('FROM=build')).toBe('build');
  expect(mountFromAtParse('target=/x')).toBe('');
  expect(mountFromAtParse('from=a$')).toBe('a$');
  expect(() => mountFromAtParse('from=${S}')).toThrow("'from' doesn't support variable expansion");
});

test('ramInBytes', () => {
  expect(ramInBytes('100')).toBe(100);
  expect(ramInBytes('64m')).toBe(64 * 1024 * 1024);
  expect(ramInBytes('1KiB')).toBe(1024);
  expect(ramInBytes('2 GB')).toBe(2 * 1024 ** 3);
  expect(ramInBytes('1x')).toBeUndefined();
  expect(ramInBytes('')).toBeUndefined();
});

test('parseDevice', () => {
  expect(parseDevice('nvidia.com/gpu=all')).toEqual({ name: 'nvidia.com/gpu=all', required: false });
  expect(parseDevice('name=x,required=false')).toEqual({ name: 'x', required: false });
  expect(parseDevice('x,required')).toEqual({ name: 'x', required: true });
  expect(() => parseDevice('name=a,name=b')).toThrow('device name already set to a');
  expect(() => parseDevice('x,required=maybe')).toThrow('invalid value for required: maybe');
  expect(() => parseDevice('x,nam=y')).toThrow("unexpected key 'nam' in 'nam=y' (did you mean name?)");
});
