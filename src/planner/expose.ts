/**
 * EXPOSE port specs (BuildKit's convert_expose.go): `[ip:][hostport:]port[-end][/tcp|udp|sctp]` becomes one
 * `port/proto` key per container port. Host parts are accepted and dropped, as BuildKit does.
 */
import { isIP } from 'node:net';
import { PlanFault } from './fault';
import { goParseUint } from './go';

export function parsePortSpecs(specs: readonly string[]): string[] {
  return specs.flatMap(parsePortSpec);
}

function parsePortSpec(raw: string): string[] {
  const [rawIp, hostPort, rawContainer] = splitParts(raw);
  const slash = rawContainer.indexOf('/');
  const containerPort = slash < 0 ? rawContainer : rawContainer.slice(0, slash);
  let proto = slash < 0 ? '' : rawContainer.slice(slash + 1);
  if (containerPort === '') throw new PlanFault(`no port specified: ${rawContainer}<empty>`);
  proto = proto.toLowerCase();
  if (proto === '') proto = 'tcp';
  else if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp')
    throw new PlanFault(`invalid proto: ${proto}`);

  let ip = rawIp;
  if (ip.startsWith('[')) {
    const close = ip.indexOf(']');
    if (close !== ip.length - 1)
      throw new PlanFault(`invalid IP address ${ip}: address ${ip}:: missing port in address`);
    ip = ip.slice(1, close);
  }
  if (ip !== '' && isIP(ip) === 0) throw new PlanFault(`invalid IP address: ${ip}`);

  const container = parsePortRange(containerPort);
  if (typeof container === 'string') throw new PlanFault(`invalid containerPort: ${containerPort}`);
  if (hostPort !== '') {
    const host = parsePortRange(hostPort);
    if (typeof host === 'string') throw new PlanFault(`invalid hostPort: ${hostPort}`);
    // A host range is allowed only with a single container port (it is then the pool to allocate from).
    if (container[1] - container[0] !== host[1] - host[0] && container[1] !== container[0]) {
      throw new PlanFault(
        `invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`,
      );
    }
  }
  const ports: string[] = [];
  for (let p = container[0]; p <= container[1]; p++) ports.push(`${p}/${proto}`);
  return ports;
}

function splitParts(raw: string): [string, string, string] {
  const parts = raw.split(':');
  switch (parts.length) {
    case 1:
      return ['', '', parts[0]];
    case 2:
      return ['', parts[0], parts[1]];
    case 3:
      return [parts[0], parts[1], parts[2]];
    default: {
      const n = parts.length;
      return [parts.slice(0, n - 2).join(':'), parts[n - 2], parts[n - 1]];
    }
  }
}

/** `[start, end]`, or an error string. */
function parsePortRange(ports: string): [number, number] | string {
  if (ports === '') return 'empty string specified for ports';
  if (!ports.includes('-')) {
    const p = goParseUint(ports, 10, 16);
    return p === undefined ? 'invalid port' : [p, p];
  }
  const parts = ports.split('-');
  if (parts.length !== 2) return `invalid port range format: ${ports}`;
  const start = goParseUint(parts[0], 10, 16);
  const end = goParseUint(parts[1], 10, 16);
  if (start === undefined || end === undefined) return 'invalid port';
  if (end < start) return `invalid range specified for port: ${ports}`;
  return [start, end];
}
