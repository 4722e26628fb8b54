// Loaded with `node --import` by secrets.bench into the measured process: writes its start time
// (performance.timeOrigin, ms since the epoch) on fd 3. The product code runs as shipped; only this hook is added.
import { writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

writeSync(3, `${performance.timeOrigin}\n`);
