/**
 * The rooms of src/ and which rooms each may import (docs/ARCHITECTURE.md): the line runs one way, from the
 * command line down to the store. The ground floor (`src/errors.ts`, `src/events.ts`, `src/go/`, `src/platform.ts`, `src/store/`) is open to every
 * room and imports no room itself. A room nested in another (`executor/sandbox`) is a room of its own: the longest
 * matching path decides.
 */
export const GROUND = ['errors.ts', 'events.ts', 'go', 'platform.ts', 'store'];

export const ROOMS = {
  parser: [],
  context: [],
  planner: ['parser'],
  advice: ['parser', 'planner', 'context'],
  layers: [],
  image: ['layers'],
  cache: ['layers', 'image'],
  'executor/sandbox': ['layers'],
  executor: ['parser', 'context', 'planner', 'advice', 'layers', 'image', 'cache', 'executor/sandbox'],
  report: ['cache'],
  cli: [
    'parser',
    'context',
    'planner',
    'advice',
    'layers',
    'image',
    'cache',
    'executor',
    'executor/sandbox',
    'report',
  ],
};
