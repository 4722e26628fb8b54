import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hpe3parClientText, WsapiError } from '../../src/array/index.js';
import { failedAsUpstream, failedWith, operationFailed } from '../../src/volumes/flows/failures.js';

const err = (init: Partial<ConstructorParameters<typeof WsapiError>[0]> & { status: number }) =>
  new WsapiError({ array: '10.0.0.5:8080', call: 'PUT /volumesets/gold', ...init });

describe("hpe3parclient's text of a WSAPI error (str(ex), what HPE's plugin passed on)", () => {
  test('class text, status, code, desc', () => {
    assert.equal(hpe3parClientText(err({ status: 404, desc: 'fake' })), 'Not found (HTTP 404) - fake');
    assert.equal(hpe3parClientText(err({ status: 400, desc: 'Create RCG failed: TEST-RCG' })), 'Bad request (HTTP 400) - Create RCG failed: TEST-RCG');
    assert.equal(hpe3parClientText(err({ status: 409, code: 22, desc: 'volume exists' })), 'Conflict (HTTP 409) 22 - volume exists');
    assert.equal(hpe3parClientText(err({ status: 500, code: 1, desc: 'internal' })), 'Internal Server Error (HTTP 500) 1 - internal');
    assert.equal(hpe3parClientText(err({ status: 403, code: 5 })), 'Forbidden (HTTP 403) 5');
    assert.equal(hpe3parClientText(err({ status: 503 })), 'Service Unavailable (HTTP 503)');
    assert.equal(hpe3parClientText(err({ status: 412 })), 'Over limit (HTTP 412)');
  });

  test('ref and debug parts in their order; code 0 and empty parts left out as Python did', () => {
    assert.equal(
      hpe3parClientText(err({ status: 400, code: 57, desc: 'too long', ref: 'name', debug1: 'd1', debug2: 'd2' })),
      "Bad request (HTTP 400) 57 - too long - name (1: 'd1') (2: 'd2')",
    );
    assert.equal(hpe3parClientText(err({ status: 404, code: 0, desc: '' })), 'Not found (HTTP 404)');
  });

  test('a status hpe3parclient has no class for', () => {
    assert.equal(hpe3parClientText(err({ status: 429, desc: 'slow down' })), 'HTTP error (HTTP 429) - slow down');
  });
});

describe('volume operation errors: upstream text first, then ours', () => {
  test('failedWith: upstream wording verbatim, then what, array and call, fix', () => {
    const e = failedWith('Driver: Failed to set flash cache policy - Not found (HTTP 404) 77 - no set', err({ status: 404, code: 77, desc: 'no set' }), {
      what: 'VV set gold',
      fix: 'check the set',
    });
    assert.equal(
      e.message,
      'Driver: Failed to set flash cache policy - Not found (HTTP 404) 77 - no set (VV set gold; array 10.0.0.5:8080: PUT /volumesets/gold, WSAPI code NON_EXISTENT_SET; fix: check the set)',
    );
    assert.equal(e.fix, 'check the set');
  });

  test("failedAsUpstream: an array's answer in upstream's form; other causes as `<what>: <cause>`", () => {
    const e = failedAsUpstream('Failed to create volume v1 on backend DEFAULT', new WsapiError({ array: 'a:8080', call: 'POST /volumes', status: 400, code: 24, desc: 'no space' }));
    assert.equal(
      e.message,
      'Bad request (HTTP 400) 24 - no space (Failed to create volume v1 on backend DEFAULT; array a:8080: POST /volumes, WSAPI code NO_SPACE; fix: free space in the CPG or choose another CPG)',
    );
    assert.equal(failedAsUpstream('Failed to x', new Error('boom')).message, 'Failed to x: boom');
  });

  test('operationFailed (Mount, Unmount: no upstream text) keeps `<what>: <our WSAPI error>`', () => {
    const e = operationFailed('Failed to mount volume v1', new WsapiError({ array: 'a:8080', call: 'POST /vluns', status: 500, code: 1, desc: 'x' }));
    assert.equal(e.message, 'Failed to mount volume v1: array a:8080: POST /vluns failed: HTTP 500, WSAPI code 1 INT_SERV_ERR: x');
  });
});
