import { UserError } from '../../src/errors';
import { parseLoad, parseOutput, withLoadDefault } from '../../src/cli/build-options';

describe('--load and --output type=docker', () => {
  it('a bare --load is docker, and only the flag itself is rewritten', () => {
    expect(withLoadDefault(['-t', 'app', '--load', '.'])).toEqual(['-t', 'app', '--load=docker', '.']);
    expect(withLoadDefault(['--load=podman', '.'])).toEqual(['--load=podman', '.']);
    expect(withLoadDefault(['-t', '--loader', '.'])).toEqual(['-t', '--loader', '.']);
  });

  it('names docker or podman, anything else is a UserError', () => {
    expect(parseLoad(undefined)).toBeUndefined();
    expect(parseLoad('docker')).toEqual({ type: 'engine', engine: 'docker' });
    expect(parseLoad('podman')).toEqual({ type: 'engine', engine: 'podman' });
    expect(() => parseLoad('containerd')).toThrow(UserError);
  });

  it('type=docker without dest loads into docker (buildx), with dest writes an archive', () => {
    expect(parseOutput('type=docker')).toEqual({ type: 'engine', engine: 'docker' });
    expect(parseOutput('type=docker,dest=out.tar')).toEqual({ type: 'docker', dest: 'out.tar' });
    expect(() => parseOutput('type=oci')).toThrow(/dest= is required/);
  });
});
