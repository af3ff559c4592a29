/**
 * A private docker engine for tests: Debian's dockerd with its own data root, socket and pid file under a temp
 * dir, a bridge of its own and no iptables rules (the tests load and run images; they need no network), so it never
 * touches the machine's own docker. Not `--bridge none`: with it dockerd deletes `docker0`, the stock daemon's
 * bridge, and `docker run` there fails until that daemon restarts. Started per test file, stopped after it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireTool } from './e2e';

export interface PrivateDockerd {
  /** `unix:///…/docker.sock`, for DOCKER_HOST. */
  host: string;
  /** Runs the docker CLI against this engine; returns stdout, fails with stderr. */
  docker(args: string[]): string;
  stop(): Promise<void>;
}

export async function startPrivateDockerd(dir: string): Promise<PrivateDockerd> {
  const dockerd = requireTool('dockerd');
  const cli = requireTool('docker');
  const sock = path.join(dir, 'docker.sock');
  const host = `unix://${sock}`;
  const log = openSync(path.join(dir, 'dockerd.log'), 'a');
  const bridge = createBridge();
  const child: ChildProcess = spawn(
    dockerd,
    [
      '--data-root',
      path.join(dir, 'data'),
      '--exec-root',
      path.join(dir, 'exec'),
      '--pidfile',
      path.join(dir, 'dockerd.pid'),
      '--host',
      host,
      '--bridge',
      bridge,
      '--iptables=false',
      '--ip6tables=false',
    ],
    { stdio: ['ignore', log, log] },
  );
  const docker = (args: string[]): string => {
    const r = spawnSync(cli, args, { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: host } });
    if (r.status !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return r.stdout;
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(killer);
    closeSync(log);
    spawnSync('ip', ['link', 'del', bridge]);
  };
  for (let i = 0; i < 120; i++) {
    if (child.exitCode !== null) break;
    if (spawnSync(cli, ['version'], { env: { ...process.env, DOCKER_HOST: host } }).status === 0) {
      return { host, docker, stop };
    }
    await sleep(250);
  }
  await stop();
  const tail = (await fsp.readFile(path.join(dir, 'dockerd.log'), 'utf8')).split('\n').slice(-5).join('\n');
  throw new Error(`dockerd did not start:\n${tail}`);
}

/** A bridge for the private engine (`tsbt<pid>`, an address of its own), so it leaves `docker0` alone. */
function createBridge(): string {
  const name = `tsbt${process.pid % 100_000}`;
  spawnSync('ip', ['link', 'del', name]);
  for (const args of [
    ['link', 'add', name, 'type', 'bridge'],
    ['addr', 'add', `10.199.${process.pid % 250}.1/24`, 'dev', name],
  ]) {
    const r = spawnSync('ip', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr}`);
  }
  return name;
}
