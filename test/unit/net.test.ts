import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePorts } from '../../src/net.js';

test('freePorts gives distinct ports nobody listens on', async () => {
  const ports = await freePorts(3);
  assert.equal(new Set(ports).size, 3);
  for (const port of ports) {
    const refused = await fetch(`http://127.0.0.1:${port}/`).then(() => false, () => true);
    assert.ok(refused, `port ${port} answered`);
  }
});
