import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EtcdError, HpeError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { createVolumeDriverApp, listenOnSocket, type VolumeDriver, type VolumeSummary } from '../../src/server/index.js';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';

/** An in-memory driver: this file tests the protocol layer (parsing, routing, answers), not volume logic. */
class MemoryDriver implements VolumeDriver {
  readonly volumes = new Map<string, VolumeSummary>();
  async create(name: string, opts: Record<string, string> | undefined) {
    if (opts?.size === 'bad') throw new HpeError(`Invalid value 'bad' specified for size.`, 'give an integer');
    this.volumes.set(name, { Name: name, Mountpoint: '', Status: { opts: opts ?? null } });
  }
  async remove(name: string) {
    if (!this.volumes.delete(name)) throw new HpeError(`Volume name to remove not found: ${name}`, 'check the name');
  }
  async get(name: string) {
    return this.volumes.get(name);
  }
  /** Set: List fails as the store does when etcd cannot be read (an HpeError whose cause is an EtcdError). */
  etcdDown = false;
  async list() {
    if (this.etcdDown) {
      const cause = new EtcdError('127.0.0.1:2379', 'refused', 'connection refused', 'start etcd on 127.0.0.1:2379');
      throw new HpeError(`ETCD volume list failed: ${cause.message}`, cause.fix, { cause });
    }
    return [...this.volumes.values()];
  }
  async path(name: string) {
    if (name === 'boom') throw new Error('unexpected');
    return this.mounts.has(name) ? `/opt/hpe/data/hpedocker-${name}` : '';
  }
  readonly mounts = new Map<string, Set<string>>();
  async mount(name: string, id: string) {
    if (!this.volumes.has(name)) throw new HpeError(`Volume ${name} does not exist: cannot mount it`, 'check the name');
    const ids = this.mounts.get(name) ?? new Set<string>();
    ids.add(id);
    this.mounts.set(name, ids);
    return { Mountpoint: `/opt/hpe/data/hpedocker-${name}`, Devicename: '/dev/loop7' };
  }
  async unmount(name: string, id: string) {
    this.mounts.get(name)?.delete(id);
    if (this.mounts.get(name)?.size === 0) this.mounts.delete(name);
  }
}

const socket = join(tmpdir(), `hpe-server-${process.pid}.sock`);
const driver = new MemoryDriver();
const logLines: string[] = [];
let close: () => Promise<void>;

before(async () => {
  const sink = new Writable({ write: (c, _e, done) => (logLines.push(String(c)), done()) });
  ({ close } = await listenOnSocket(createVolumeDriverApp(driver, createLogger('DEBUG', sink)), socket));
});
after(() => close());

/** Posts as dockerd does: no Content-Type, and no body at all when the call has no arguments. */
function post(path: string, body?: string): Promise<{ status: number; type: string; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, path, method: 'POST', headers: { Accept: 'application/vnd.docker.plugins.v1.2+json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('the socket is created with mode 0600', async () => {
  assert.equal((await stat(socket)).mode & 0o777, 0o600);
});

test('Plugin.Activate with an empty body and no Content-Type', async () => {
  const r = await post('/Plugin.Activate');
  assert.equal(r.status, 200);
  assert.match(r.type, /application\/vnd\.docker\.plugins\.v1\.2\+json/);
  assert.deepEqual(r.json, { Implements: ['VolumeDriver'] });
});

test('Capabilities says global scope', async () => {
  assert.deepEqual((await post('/VolumeDriver.Capabilities', '{}')).json, { Capabilities: { Scope: 'global' } });
});

test('Create, Get, List, Path, Remove round trip with bodies sent without Content-Type', async () => {
  assert.deepEqual((await post('/VolumeDriver.Create', '{"Name":"v1","Opts":{"size":"1"}}')).json, { Err: '' });
  const got = await post('/VolumeDriver.Get', '{"Name":"v1"}');
  assert.deepEqual(got.json, { Err: '', Volume: { Name: 'v1', Mountpoint: '', Status: { opts: { size: '1' } } } });
  assert.deepEqual((await post('/VolumeDriver.List', '{}')).json, { Err: '', Volumes: [{ Name: 'v1', Mountpoint: '', Status: { opts: { size: '1' } } }] });
  assert.deepEqual((await post('/VolumeDriver.Path', '{"Name":"v1"}')).json, { Err: '', Mountpoint: '' });
  assert.deepEqual((await post('/VolumeDriver.Remove', '{"Name":"v1"}')).json, { Err: '' });
  assert.deepEqual((await post('/VolumeDriver.Get', '{"Name":"v1"}')).json, { Err: 'volume v1 does not exist' });
});

test('an etcd failure answers an Err (never an empty list) with its fix and `hpedockerplugin check`; other Errs stay bare', async () => {
  driver.etcdDown = true;
  try {
    const r = await post('/VolumeDriver.List', '{}');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, {
      Err: "ETCD volume list failed: etcd 127.0.0.1:2379: refused: connection refused. Fix: start etcd on 127.0.0.1:2379; `hpedockerplugin check` on this host shows etcd's state",
    });
  } finally {
    driver.etcdDown = false;
  }
  assert.doesNotMatch(JSON.stringify((await post('/VolumeDriver.Remove', '{"Name":"nope"}')).json), /Fix:|hpedockerplugin check/);
});

test('a refused request answers 200 with the error text in Err', async () => {
  const r = await post('/VolumeDriver.Create', '{"Name":"v2","Opts":{"size":"bad"}}');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { Err: "Invalid value 'bad' specified for size." });
  assert.deepEqual((await post('/VolumeDriver.Remove', '{"Name":"nope"}')).json, { Err: 'Volume name to remove not found: nope' });
});

test('bad bodies get a JSON Err naming the problem, never HTML or an empty body', async () => {
  const broken = await post('/VolumeDriver.Create', '{"Name":');
  assert.equal(broken.status, 400);
  assert.deepEqual(broken.json, { Err: 'the request body is not valid JSON (/VolumeDriver.Create)' });
  const noName = await post('/VolumeDriver.Create', '{}');
  assert.deepEqual(noName.json, { Err: 'the request has no "Name": send a JSON body like {"Name": "vol1"}' });
  const badOpts = await post('/VolumeDriver.Create', '{"Name":"v3","Opts":[1]}');
  assert.deepEqual(badOpts.json, { Err: '"Opts" must be an object of option names to strings' });
  const unknown = await post('/VolumeDriver.Frobnicate', '{}');
  assert.equal(unknown.status, 404);
  assert.match(String(unknown.json.Err), /unknown endpoint POST \/VolumeDriver\.Frobnicate/);
});

/** Posts with the given headers, as a client other than dockerd might. */
function postWith(path: string, headers: Record<string, string>, body: string | Buffer): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, path, method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('a body in another charset or a wrong Content-Encoding is a 4xx JSON Err naming the problem, logged without a stack', async () => {
  const linesBefore = logLines.length;
  const latin1 = await postWith('/VolumeDriver.Get', { 'Content-Type': 'application/json; charset=latin1' }, '{"Name":"v1"}');
  assert.deepEqual(latin1, {
    status: 415,
    json: { Err: 'the request body\'s charset "latin1" is not supported: send JSON in UTF-8 (Content-Type: application/json, or no Content-Type)' },
  });
  const plainAsGzip = await postWith('/VolumeDriver.Get', { 'Content-Encoding': 'gzip' }, '{"Name":"v1"}');
  assert.deepEqual(plainAsGzip, {
    status: 400,
    json: { Err: 'the request body is not gzip data, as its Content-Encoding says: compress the body that way, or drop the Content-Encoding header' },
  });
  const unknown = await postWith('/VolumeDriver.Get', { 'Content-Encoding': 'x-frobnicate' }, '{"Name":"v1"}');
  assert.deepEqual(unknown, {
    status: 415,
    json: { Err: 'Content-Encoding "x-frobnicate" is not supported: send the body uncompressed, or compressed with gzip, deflate or br' },
  });
  const gzipped = await postWith('/VolumeDriver.Get', { 'Content-Encoding': 'gzip' }, gzipSync('{"Name":"nope"}'));
  assert.deepEqual(gzipped, { status: 200, json: { Err: 'volume nope does not exist' } });
  const logged = logLines.slice(linesBefore).join('');
  assert.doesNotMatch(logged, /unexpected failure|"stack"/);
  assert.match(logged, /request refused/);
});

test('an unexpected failure is a 500 with a JSON Err, logged', async () => {
  const r = await post('/VolumeDriver.Path', '{"Name":"boom"}');
  assert.equal(r.status, 500);
  assert.equal(r.json.Err, 'internal error in hpedockerplugin while serving /VolumeDriver.Path: unexpected');
  assert.ok(logLines.some((l) => l.includes('unexpected failure')));
});

test('Mount answers the mountpoint and device; Unmount releases; both need Name and ID', async () => {
  await post('/VolumeDriver.Create', '{"Name":"m1"}');
  const m = await post('/VolumeDriver.Mount', '{"Name":"m1","ID":"abc"}');
  assert.deepEqual(m.json, { Err: '', Name: 'm1', Mountpoint: '/opt/hpe/data/hpedocker-m1', Devicename: '/dev/loop7' });
  assert.equal((await post('/VolumeDriver.Path', '{"Name":"m1"}')).json.Mountpoint, '/opt/hpe/data/hpedocker-m1');
  assert.deepEqual((await post('/VolumeDriver.Unmount', '{"Name":"m1","ID":"abc"}')).json, { Err: '' });
  assert.equal((await post('/VolumeDriver.Path', '{"Name":"m1"}')).json.Mountpoint, '');
  const noId = await post('/VolumeDriver.Mount', '{"Name":"m1"}');
  assert.deepEqual(noId.json, { Err: 'the request has no "ID": send a JSON body like {"Name": "vol1", "ID": "<caller id>"}' });
  const unknown = await post('/VolumeDriver.Mount', '{"Name":"nope","ID":"abc"}');
  assert.match(String(unknown.json.Err), /^Volume nope does not exist: cannot mount it/);
});

test('a stale socket file is replaced; a live one is refused', async () => {
  const { HpeError: _ } = await import('../../src/errors.js');
  await assert.rejects(listenOnSocket(() => {}, socket), /another process already serves/);
});
