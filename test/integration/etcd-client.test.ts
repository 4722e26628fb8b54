/**
 * src/etcd against REAL etcd servers started by test/support/etcd.ts (etcd 3.4 from the etcd-server package).
 * Each test starts and stops its own etcd.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { EtcdError } from '../../src/errors.js';
import type { HostConfig } from '../../src/config/types.js';
import {
  checkMembers,
  createEtcdClient,
  createKeyRecord,
  deleteKeyRecord,
  readAllKeyRecords,
  readKeyRecord,
  replaceKeyRecord,
} from '../../src/etcd/index.js';
import { freePorts } from '../../src/net.js';
import { enableAuthWithPluginRole, expectEtcdError, generateCerts, issueClientCert, startEtcd, tlsCfg, type EtcdCluster } from '../support/etcd.js';

type EtcdCfg = HostConfig['etcd'];

function plainCfg(cluster: EtcdCluster): EtcdCfg {
  return { endpoints: cluster.endpoints };
}

/**
 * KV Range calls etcd served so far (member 0's /metrics), whatever the transport: reads go through the JSON
 * gateway, which etcd serves as gRPC calls too.
 */
async function rangeCalls(cluster: EtcdCluster): Promise<number> {
  const text = await new Promise<string>((resolve, reject) => {
    http
      .get(`${cluster.clientUrls[0]}/metrics`, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
  const m = /^grpc_server_handled_total\{grpc_code="OK",grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

test('single member: get, prefix read, compare-and-swap semantics', async (t) => {
  const cluster = await startEtcd({ members: 1 });
  t.after(() => cluster.stop());
  const client = await createEtcdClient(plainCfg(cluster));
  t.after(() => client.close());

  assert.equal(await client.get('/t/a'), undefined);
  assert.equal(await client.putIfAbsent('/t/a', 'one'), true);
  assert.equal(await client.putIfAbsent('/t/a', 'two'), false, 'second create must not overwrite');
  const a = await client.get('/t/a');
  assert.equal(a?.value, 'one');
  assert.match(a!.modRevision, /^\d+$/);

  // replace only at the current revision
  assert.equal(await client.putIfUnchanged('/t/a', 'three', String(Number(a!.modRevision) - 1)), false);
  assert.equal((await client.get('/t/a'))?.value, 'one');
  assert.equal(await client.putIfUnchanged('/t/a', 'three', a!.modRevision), true);
  const a2 = await client.get('/t/a');
  assert.equal(a2?.value, 'three');
  assert.ok(Number(a2!.modRevision) > Number(a!.modRevision));
  assert.equal(await client.putIfUnchanged('/t/a', 'four', a!.modRevision), false, 'stale revision after a replace');
  assert.equal(await client.putIfUnchanged('/t/absent', 'x', a2!.modRevision), false, 'replace of an absent key');
  assert.equal(await client.get('/t/absent'), undefined);

  // values round-trip byte for byte
  const odd = 'line1\nline2 ünïcødé ✓ "quoted" \\ back';
  assert.equal(await client.putIfAbsent('/t/odd', odd), true);
  assert.equal((await client.get('/t/odd'))?.value, odd);

  // prefix read: keys without the prefix, nothing outside it
  assert.equal(await client.putIfAbsent('/t/sub/b', 'bee'), true);
  assert.equal(await client.putIfAbsent('/tx', 'outside'), true);
  assert.equal(await client.putIfAbsent('/t', 'the prefix itself without slash'), true);
  const all = await client.getPrefix('/t/');
  assert.deepEqual([...all.keys()].sort(), ['a', 'odd', 'sub/b']);
  assert.equal(all.get('a')?.value, 'three');
  assert.equal(all.get('a')?.modRevision, a2!.modRevision);
  assert.equal(all.get('sub/b')?.value, 'bee');
  assert.equal((await client.getPrefix('/nothing/')).size, 0);

  // delete: conditional and unconditional
  assert.equal(await client.delete('/t/a', a!.modRevision), false, 'stale revision');
  assert.equal((await client.get('/t/a'))?.value, 'three');
  assert.equal(await client.delete('/t/a', a2!.modRevision), true);
  assert.equal(await client.get('/t/a'), undefined);
  assert.equal(await client.delete('/t/a', a2!.modRevision), false, 'already gone');
  assert.equal(await client.delete('/t/sub/b'), true);
  assert.equal(await client.delete('/t/sub/b'), false);
  assert.throws(() => client.putIfUnchanged('/t/x', 'v', 'abc'), TypeError);
});

test('single member: concurrent creates of one key, exactly one wins', async (t) => {
  const cluster = await startEtcd({ members: 1 });
  t.after(() => cluster.stop());
  const clients = await Promise.all([1, 2, 3, 4].map(() => createEtcdClient(plainCfg(cluster))));
  t.after(() => clients.forEach((c) => c.close()));
  const results = await Promise.all(clients.map((c, i) => c.putIfAbsent('/race', `writer-${i}`)));
  assert.equal(results.filter(Boolean).length, 1);
  const winner = results.indexOf(true);
  assert.equal((await clients[0]!.get('/race'))?.value, `writer-${winner}`);
});

test('key store: /backend/<name> records, all read in ONE round trip, conflicts return false', async (t) => {
  const cluster = await startEtcd({ members: 1 });
  t.after(() => cluster.stop());
  const client = await createEtcdClient(plainCfg(cluster));
  t.after(() => client.close());

  assert.equal((await readAllKeyRecords(client)).size, 0);
  assert.equal(await readKeyRecord(client, 'DEFAULT'), undefined);
  const names = ['DEFAULT', 'backend2', '3par-b'];
  for (const name of names) assert.equal(await createKeyRecord(client, name, `{"kid":"${name}"}`), true);
  assert.equal(await createKeyRecord(client, 'DEFAULT', 'other'), false, 'existing record is not overwritten');
  await client.putIfAbsent('/backendX', 'not a record');
  await client.putIfAbsent('/volumes/v1', 'not a record');

  // the raw key is what upstream used
  assert.equal((await client.get('/backend/DEFAULT'))?.value, '{"kid":"DEFAULT"}');

  const before = await rangeCalls(cluster);
  const all = await readAllKeyRecords(client);
  assert.equal((await rangeCalls(cluster)) - before, 1, 'one range request for every record');
  assert.deepEqual([...all.keys()].sort(), [...names].sort());
  assert.equal(all.get('backend2')?.raw, '{"kid":"backend2"}');

  const rec = await readKeyRecord(client, 'DEFAULT');
  assert.equal(rec?.raw, '{"kid":"DEFAULT"}');
  assert.equal(rec?.modRevision, all.get('DEFAULT')?.modRevision);

  assert.equal(await replaceKeyRecord(client, 'DEFAULT', 'v2', rec!.modRevision), true);
  assert.equal(await replaceKeyRecord(client, 'DEFAULT', 'v3', rec!.modRevision), false, 'stale revision');
  assert.equal((await readKeyRecord(client, 'DEFAULT'))?.raw, 'v2');
  assert.equal(await replaceKeyRecord(client, 'nope', 'v', rec!.modRevision), false);

  const cur = await readKeyRecord(client, 'backend2');
  assert.equal(await deleteKeyRecord(client, 'backend2', String(Number(cur!.modRevision) - 1)), false);
  assert.equal(await deleteKeyRecord(client, 'backend2', cur!.modRevision), true);
  assert.equal(await deleteKeyRecord(client, 'DEFAULT'), true);
  assert.equal(await deleteKeyRecord(client, 'DEFAULT'), false, 'absent');
  assert.deepEqual([...(await readAllKeyRecords(client)).keys()], ['3par-b']);
  await assert.rejects(() => readKeyRecord(client, ''), TypeError);
});

test('three members with one stopped: reads and writes work, checkMembers names the stopped one', async (t) => {
  const cluster = await startEtcd({ members: 3 });
  t.after(() => cluster.stop());
  const cfg = plainCfg(cluster);

  const before = await checkMembers(cfg);
  assert.deepEqual(before.map((m) => m.ok), [true, true, true]);
  assert.ok(before.every((m) => m.version?.startsWith('3.')), JSON.stringify(before));
  assert.equal(before.filter((m) => m.leader).length, 1);

  // Stop a follower: the cluster keeps quorum and a leader, so clients must not notice.
  const leader = await cluster.leaderIndex();
  assert.notEqual(leader, undefined);
  const down = leader === 2 ? 1 : 2;
  await cluster.stopMember(down);

  const client = await createEtcdClient(cfg);
  t.after(() => client.close());
  const started = performance.now();
  for (let i = 0; i < 20; i++) {
    assert.equal(await client.putIfAbsent(`/m/${i}`, `v${i}`), true);
    assert.equal((await client.get(`/m/${i}`))?.value, `v${i}`);
  }
  assert.equal((await client.getPrefix('/m/')).size, 20);
  assert.ok(performance.now() - started < 5000, 'no per-call wait on the stopped member');

  const members = await checkMembers(cfg);
  assert.equal(members.length, 3);
  for (const [i, m] of members.entries()) {
    assert.equal(m.endpoint, `127.0.0.1:${cluster.endpoints[i]!.port}`);
    if (i === down) {
      assert.equal(m.ok, false);
      assert.ok(m.error instanceof EtcdError);
      assert.equal(m.error.reason, 'refused');
      assert.equal(m.error.endpoint, m.endpoint);
      assert.match(m.error.describe(), /host_etcd_ip_address/);
    } else {
      assert.equal(m.ok, true, `member ${i}: ${m.error?.message}`);
      assert.equal(m.error, undefined);
    }
  }

  // Back on the same ports and data: it has the writes made while it was down.
  await cluster.startMember(down);
  const again = await checkMembers(cfg);
  assert.deepEqual(again.map((m) => m.ok), [true, true, true]);
  const only = await createEtcdClient({ endpoints: [cluster.endpoints[down]!] });
  t.after(() => only.close());
  assert.equal((await only.getPrefix('/m/')).size, 20);
});

test('three members: writes resume soon after the leader is stopped', async (t) => {
  const cluster = await startEtcd({ members: 3 });
  t.after(() => cluster.stop());
  const client = await createEtcdClient(plainCfg(cluster));
  t.after(() => client.close());
  assert.equal(await client.putIfAbsent('/l/before', 'x'), true);

  const leader = await cluster.leaderIndex();
  assert.notEqual(leader, undefined);
  await cluster.stopMember(leader!);
  const started = performance.now();
  let lastError: unknown;
  for (;;) {
    try {
      assert.equal(await client.putIfAbsent('/l/after', 'y'), true);
      break;
    } catch (e) {
      lastError = e;
      assert.ok(e instanceof EtcdError, String(e));
      if (performance.now() - started > 5000) throw lastError;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const took = performance.now() - started;
  t.diagnostic(`first write after stopping the leader succeeded after ${Math.round(took)} ms`);
  assert.equal((await client.get('/l/after'))?.value, 'y');
});

test('etcd down: EtcdError refused within a few seconds, and the same client recovers', async (t) => {
  const cluster = await startEtcd({ members: 1 });
  t.after(() => cluster.stop());
  const client = await createEtcdClient(plainCfg(cluster));
  t.after(() => client.close());
  assert.equal(await client.putIfAbsent('/d/a', '1'), true);

  await cluster.stopMember(0);
  const { err, ms } = await expectEtcdError(() => client.get('/d/a'), 'refused');
  t.diagnostic(`dead etcd reported after ${ms.toFixed(1)} ms: ${err.describe()}`);
  assert.ok(ms < 6000, `took ${ms} ms`);
  assert.equal(err.endpoint, `127.0.0.1:${cluster.endpoints[0]!.port}`);
  assert.equal(err.retryable, true);
  assert.match(err.message, /refused/);
  assert.match(err.fix, /start etcd on 127\.0\.0\.1:\d+, or correct host_etcd_ip_address \/ host_etcd_port_number in \[DEFAULT\]/);
  // every operation, not only the first
  await expectEtcdError(() => client.putIfAbsent('/d/b', '2'), 'refused');
  await expectEtcdError(() => client.getPrefix('/d/'), 'refused');

  await cluster.startMember(0);
  assert.equal((await client.get('/d/a'))?.value, '1');
});

test('no etcd at all: create succeeds, calls fail fast; all endpoints are named', async (t) => {
  const ports = await freePorts(2);
  const client = await createEtcdClient({ endpoints: ports.map((port) => ({ host: '127.0.0.1', port })) });
  t.after(() => client.close());
  const { err, ms } = await expectEtcdError(() => client.getPrefix('/backend/'), 'refused');
  assert.ok(ms < 6000, `took ${ms} ms`);
  for (const p of ports) assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${p}`));
  const members = await checkMembers({ endpoints: ports.map((port) => ({ host: '127.0.0.1', port })) });
  assert.deepEqual(members.map((m) => [m.ok, m.error?.reason]), [[false, 'refused'], [false, 'refused']]);
});

test('a server that accepts but never answers: EtcdError timeout, retried for transientRetryMs, then reported', async (t) => {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const port = (server.address() as net.AddressInfo).port;
  // No answer in time is what an election looks like, so it is tried again until transientRetryMs has passed;
  // the last attempt may still run its full request time.
  const client = await createEtcdClient({ endpoints: [{ host: '127.0.0.1', port }] }, { requestTimeoutMs: 800, transientRetryMs: 1500 });
  t.after(() => client.close());
  const { err, ms } = await expectEtcdError(() => client.get('/x'), 'timeout');
  assert.ok(ms >= 1500 && ms < 1500 + 800 + 1000, `took ${ms} ms`);
  assert.match(err.message, /800 ms/);
  const [member] = await checkMembers({ endpoints: [{ host: '127.0.0.1', port }] }, { requestTimeoutMs: 500 });
  assert.equal(member?.error?.reason, 'timeout');
});

test('TLS with client certificates: works with cert + key + CA, by IP and by name', async (t) => {
  const cluster = await startEtcd({ members: 1, tls: true });
  t.after(() => cluster.stop());
  assert.match(cluster.clientUrls[0]!, /^https:/);

  const byIp = await createEtcdClient(tlsCfg(cluster));
  t.after(() => byIp.close());
  assert.equal(await createKeyRecord(byIp, 'b1', 'secret-record'), true);
  assert.equal((await readKeyRecord(byIp, 'b1'))?.raw, 'secret-record');

  const byName = await createEtcdClient(tlsCfg(cluster, { endpoints: [{ host: 'localhost', port: cluster.endpoints[0]!.port }] }));
  t.after(() => byName.close());
  assert.equal((await byName.get('/backend/b1'))?.value, 'secret-record');

  const [member] = await checkMembers(tlsCfg(cluster));
  assert.equal(member?.ok, true, member?.error?.message);
  assert.match(member?.version ?? '', /^3\./);
});

test('TLS failures: no client cert, wrong CA, plain http, unreadable files', async (t) => {
  const cluster = await startEtcd({ members: 1, tls: true });
  t.after(() => cluster.stop());
  const other = await mkdtemp(path.join(os.tmpdir(), 'hpe-wrong-ca-'));
  t.after(() => rm(other, { recursive: true, force: true }));
  const wrong = await generateCerts(other, { caCn: 'some-other-ca' });

  const tryGet = async (cfg: EtcdCfg) => {
    const c = await createEtcdClient(cfg);
    try {
      return await c.get('/x');
    } finally {
      c.close();
    }
  };

  // no client certificate: etcd (--client-cert-auth) refuses the handshake
  const noCert = await expectEtcdError(() => tryGet({ endpoints: cluster.endpoints, caCert: cluster.certs!.ca }), 'tls');
  assert.ok(noCert.ms < 2000, `took ${noCert.ms} ms`);
  assert.match(noCert.err.message, /requires a client certificate/);
  assert.match(noCert.err.fix, /host_etcd_client_cert/);

  // a client certificate from a CA etcd does not trust
  const foreign = await expectEtcdError(() => tryGet(tlsCfg(cluster, { clientCert: wrong.clientCert, clientKey: wrong.clientKey })), 'tls');
  assert.match(foreign.err.message, /rejected the client certificate/);

  // the server certificate checked against the wrong CA
  const wrongCa = await expectEtcdError(() => tryGet(tlsCfg(cluster, { caCert: wrong.ca })), 'tls');
  assert.ok(wrongCa.ms < 2000, `took ${wrongCa.ms} ms`);
  assert.match(wrongCa.err.message, /server certificate is not trusted/);
  assert.match(wrongCa.err.fix, /host_etcd_ca_cert/);

  // plain http to the https port
  const plain = await expectEtcdError(() => tryGet({ endpoints: cluster.endpoints }), 'tls');
  assert.match(plain.err.fix, /serves https/);

  // unreadable files: named by option and path, with the OS reason, before any connection
  const missing = path.join(other, 'no-such-cert.pem');
  const unreadable = await expectEtcdError(() => createEtcdClient(tlsCfg(cluster, { clientCert: missing })), 'tls');
  assert.match(unreadable.err.message, /host_etcd_client_cert/);
  assert.ok(unreadable.err.message.includes(missing), unreadable.err.message);
  assert.match(unreadable.err.message, /ENOENT/);
  assert.match(unreadable.err.fix, /host_etcd_client_cert/);

  const caDir = await expectEtcdError(() => createEtcdClient(tlsCfg(cluster, { caCert: other })), 'tls');
  assert.match(caDir.err.message, /host_etcd_ca_cert/);
  assert.match(caDir.err.message, /EISDIR/);

  const keyAsCert = await expectEtcdError(() => createEtcdClient(tlsCfg(cluster, { clientCert: cluster.certs!.clientKey })), 'tls');
  assert.match(keyAsCert.err.message, /host_etcd_client_cert .* is not a PEM certificate/);

  const mismatch = await expectEtcdError(() => createEtcdClient(tlsCfg(cluster, { clientKey: wrong.clientKey })), 'tls');
  assert.match(mismatch.err.message, /host_etcd_client_key .* does not belong to the certificate/);

  // checkMembers reports a file problem per member instead of throwing
  const [member] = await checkMembers(tlsCfg(cluster, { clientKey: path.join(other, 'gone-key.pem') }));
  assert.equal(member?.ok, false);
  assert.equal(member?.error?.reason, 'tls');
  assert.match(member?.error?.message ?? '', /host_etcd_client_key .*gone-key\.pem/);
});

test('TLS with etcd auth: the certificate CN is the user; a denied key gives reason permission', async (t) => {
  const cluster = await startEtcd({ members: 1, tls: true });
  t.after(() => cluster.stop());
  await enableAuthWithPluginRole(cluster);
  const pluginCert = await issueClientCert(cluster.certs!, 'plugin');
  const client = await createEtcdClient(tlsCfg(cluster, { clientCert: pluginCert.cert, clientKey: pluginCert.key }));
  t.after(() => client.close());
  assert.equal(await createKeyRecord(client, 'b', 'r'), true);
  assert.equal((await readAllKeyRecords(client)).get('b')?.raw, 'r');
  const denied = await expectEtcdError(() => client.putIfAbsent('/elsewhere', 'x'), 'permission');
  assert.match(denied.err.fix, /hpedockerplugin etcd-roles/);
  assert.equal(denied.err.retryable, false);

  const nobody = await issueClientCert(cluster.certs!, 'nobody');
  const stranger = await createEtcdClient(tlsCfg(cluster, { clientCert: nobody.cert, clientKey: nobody.key }));
  t.after(() => stranger.close());
  const res = await stranger.get('/backend/b').then(
    () => 'ok',
    (e: unknown) => (e instanceof EtcdError ? e.reason : String(e)),
  );
  assert.ok(res === 'auth' || res === 'permission', `a CN that is no etcd user: ${res}`);
});
