import { parsePortSpecs } from '../../src/planner/expose';

test.each([
  [['80'], ['80/tcp']],
  [['80/UDP'], ['80/udp']],
  [['53/sctp'], ['53/sctp']],
  [['8000-8002'], ['8000/tcp', '8001/tcp', '8002/tcp']],
  [['0.0.0.0:8080:80'], ['80/tcp']],
  [['8080:80/udp'], ['80/udp']],
  [['[2001:db8::1]:8080:80'], ['80/tcp']],
  [['2001:db8::1:8080:80'], ['80/tcp']],
  [['9000-9001:80-81'], ['80/tcp', '81/tcp']],
  [['9000-9010:80'], ['80/tcp']],
])('%j', (specs, ports) => {
  expect(parsePortSpecs(specs)).toEqual(ports);
});

test.each([
  ['/tcp', 'no port specified: /tcp<empty>'],
  ['80/http', 'invalid proto: http'],
  ['x:80', 'invalid hostPort: x'],
  ['1-2-3', 'invalid containerPort: 1-2-3'],
  ['300.1.1.1:80:80', 'invalid IP address: 300.1.1.1'],
])('%j fails: %s', (spec, message) => {
  expect(() => parsePortSpecs([spec])).toThrow(message);
});
