/**
 * The read path of src/etcd over etcd's v3 JSON gateway (HTTP/1.1), against REAL etcd servers (test/support/etcd.ts)
 * and, for answers etcd gives only in rare states, small fake gateways. Also: importing src/etcd does not load etcd3.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { HostConfig } from '../../src/config/types.js';
import { checkMembers, createEtcdClient, Etcd3Client, readAllKeyRecords, type EtcdClient } from '../../src/etcd/index.js';
import { prefixRangeEnd } from '../../src/etcd/gateway.js';
import { freePort, freePorts } from '../../src/net.js';
import { enableAuthWithPluginRole, expectEtcdError, issueClientCert, startEtcd, tlsCfg } from '../support/etcd.js';

type EtcdCfg = HostConfig['etcd'];
const execFileP = promisify(execFile);

function viaGateway(client: EtcdClient): boolean {
  assert.ok(client instanceof Etcd3Client);
  return client.readsViaGateway;
}

/** An HTTP/1.1 server standing in for etcd's gateway; `answer` gives status, content type and body per request. */
async function fakeGateway(t: { after: (fn: () => unknown) => void }, answer: (path: string) => [number, string, string]): Promise<{ port: number; paths: string[] }> {
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      paths.push(req.url ?? '');
      const [status, type, body] = answer(req.url ?? '');
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  return { port: (server.address() as net.AddressInfo).port, paths };
}

/**
 * A TCP proxy to etcd that passes gRPC (HTTP/2 with prior knowledge, "PRI * HTTP/2.0") and answers every HTTP/1.1
 * request 404, like an etcd started with --enable-grpc-gateway=false.
 */
async function gatewayOffProxy(t: { after: (fn: () => unknown) => void }, target: number): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.once('data', (first) => {
      if (first.subarray(0, 3).toString('latin1') === 'PRI') {
        const upstream = net.connect(target, '127.0.0.1', () => {
          upstream.write(first);
          client.pipe(upstream).pipe(client);
        });
        sockets.add(upstream);
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
      } else {
        client.end('HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 19\r\nConnection: close\r\n\r\n404 page not found\n');
      }
    });
    client.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

test('gateway reads: same records and revisions as gRPC, prefix bounds, empty and odd values, no kvs = empty', async (t) => {
  const cluster = await startEtcd({ members: 1 });
  t.after(() => cluster.stop());
  const client = await createEtcdClient({ endpoints: cluster.endpoints });
  t.after(() => client.close());

  assert.equal(await client.get('/g/none'), undefined);
  assert.equal((await client.getPrefix('/g/')).size, 0);
  const odd = 'line1\nline2 ünïcødé ✓ "quoted" \\ back\u0000nul';
  assert.equal(await client.putIfAbsent('/g/odd', odd), true);
  assert.equal(await client.putIfAbsent('/g/empty', ''), true);
  assert.equal(await client.putIfAbsent('/g/sub/ü', 'x'), true);
  assert.equal(await client.putIfAbsent('/g', 'the prefix without slash'), true);
  assert.equal(await client.putIfAbsent('/g0', 'just past the prefix'), true);

  const all = await client.getPrefix('/g/');
  assert.ok(viaGateway(client), 'reads went through the gateway');
  assert.deepEqual([...all.keys()].sort(), ['empty', 'odd', 'sub/ü']);
  assert.equal(all.get('odd')?.value, odd);
  assert.equal(all.get('empty')?.value, '');
  assert.equal((await client.get('/g/empty'))?.value, '', 'an empty value is a present key');

  // the same as what etcd3 (gRPC) reads, revisions in the same decimal-string format
  const grpc = await client.raw.getAll().prefix('/g/').exec();
  assert.equal(grpc.kvs.length, 3);
  for (const kv of grpc.kvs) {
    const name = kv.key.toString('utf8').slice(3);
    assert.equal(all.get(name)?.modRevision, kv.mod_revision);
    assert.equal(all.get(name)?.value, kv.value.toString('utf8'));
    assert.deepEqual(await client.get(kv.key.toString('utf8')), { value: kv.value.toString('utf8'), modRevision: kv.mod_revision });
  }
  assert.match(all.get('odd')!.modRevision, /^\d+$/);

  assert.equal((await client.getPrefix('')).size, 5, 'an empty prefix reads every key');
  assert.ok(viaGateway(client));

  // range ends by etcd's rule: the last byte below 0xff incremented, trailing 0xff dropped, none at all = \0
  assert.deepEqual(prefixRangeEnd(Buffer.from('/backend/')), Buffer.from('/backend0'));
  assert.deepEqual(prefixRangeEnd(Buffer.from([0x61, 0xff, 0xff])), Buffer.from([0x62]));
  assert.deepEqual(prefixRangeEnd(Buffer.from([0xff])), Buffer.from([0]));
  assert.deepEqual(prefixRangeEnd(Buffer.alloc(0)), Buffer.from([0]));
});

test('gateway with TLS client certificates: reads and member status by IP and by name', async (t) => {
  const cluster = await startEtcd({ members: 1, tls: true });
  t.after(() => cluster.stop());
  const writer = await createEtcdClient(tlsCfg(cluster));
  t.after(() => writer.close());
  assert.equal(await writer.putIfAbsent('/backend/b1', 'record-1'), true);

  for (const host of ['127.0.0.1', 'localhost']) {
    const client = await createEtcdClient(tlsCfg(cluster, { endpoints: [{ host, port: cluster.endpoints[0]!.port }] }));
    t.after(() => client.close());
    const records = await readAllKeyRecords(client);
    assert.equal(records.get('b1')?.raw, 'record-1', host);
    assert.match(records.get('b1')!.modRevision, /^\d+$/);
    assert.ok(viaGateway(client), host);
  }
  const [member] = await checkMembers(tlsCfg(cluster));
  assert.equal(member?.ok, true, member?.error?.message);
  assert.match(member?.version ?? '', /^3\.4\./);
  assert.equal(member?.leader, true);

  // the server is verified: a CA that did not sign it is refused, by the gateway as by gRPC
  const noCa = await createEtcdClient(tlsCfg(cluster, { caCert: undefined }));
  t.after(() => noCa.close());
  const untrusted = await expectEtcdError(() => noCa.get('/backend/b1'), 'tls');
  assert.match(untrusted.err.message, /server certificate is not trusted/);
  assert.match(untrusted.err.fix, /host_etcd_ca_cert/);
});

test('gateway in a 3-member cluster with a dead member: reads fail over at once, status names the dead one', async (t) => {
  const cluster = await startEtcd({ members: 3 });
  t.after(() => cluster.stop());
  const writer = await createEtcdClient({ endpoints: cluster.endpoints });
  t.after(() => writer.close());
  for (let i = 0; i < 5; i++) assert.equal(await writer.putIfAbsent(`/backend/a${i}`, `r${i}`), true);

  const leader = await cluster.leaderIndex();
  const down = leader === 0 ? 1 : 0;
  await cluster.stopMember(down);
  // the dead member first: every read must still succeed, fast
  const endpoints = [cluster.endpoints[down]!, ...cluster.endpoints.filter((_, i) => i !== down)];
  const client = await createEtcdClient({ endpoints });
  t.after(() => client.close());
  const started = performance.now();
  for (let i = 0; i < 10; i++) assert.equal((await readAllKeyRecords(client)).size, 5);
  assert.equal((await client.get('/backend/a3'))?.value, 'r3');
  const ms = performance.now() - started;
  assert.ok(ms < 1000, `11 reads took ${ms} ms`);
  assert.ok(viaGateway(client));

  const members = await checkMembers({ endpoints: cluster.endpoints });
  for (const [i, m] of members.entries()) {
    if (i === down) {
      assert.equal(m.ok, false);
      assert.equal(m.error?.reason, 'refused');
      assert.equal(m.error?.endpoint, m.endpoint);
    } else {
      assert.equal(m.ok, true, m.error?.message);
      assert.match(m.version ?? '', /^3\./);
    }
  }
  assert.equal(members.filter((m) => m.leader).length, 1);

  // every member down: one error naming each
  const ports = await freePorts(2);
  const none = await createEtcdClient({ endpoints: ports.map((port) => ({ host: '127.0.0.1', port })) });
  t.after(() => none.close());
  const { err } = await expectEtcdError(() => none.getPrefix('/backend/'), 'refused');
  assert.match(err.message, /no member reachable/);
  for (const p of ports) assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${p}: connection refused`));
  assert.match(err.fix, /start etcd on/);
});

test('gateway error answers: permission, unauthenticated, unavailable (fails over), not JSON (body never quoted)', async (t) => {
  const cluster = await startEtcd({ members: 1 });
  t.after(() => cluster.stop());
  const json = (code: number, message: string): [number, string, string] => [
    code === 7 ? 403 : code === 16 ? 401 : 503,
    'application/json',
    JSON.stringify({ error: message, code, message }),
  ];
  const cfgFor = (...ports: number[]): EtcdCfg => ({ endpoints: ports.map((port) => ({ host: '127.0.0.1', port })) });

  const denied = await fakeGateway(t, () => json(7, 'etcdserver: permission denied'));
  const c1 = await createEtcdClient(cfgFor(denied.port));
  t.after(() => c1.close());
  const perm = await expectEtcdError(() => c1.getPrefix('/backend/'), 'permission');
  assert.match(perm.err.message, /permission denied/);
  assert.match(perm.err.fix, /hpedockerplugin etcd-roles/);
  assert.equal(perm.err.retryable, false);
  assert.deepEqual(denied.paths, ['/v3/kv/range']);

  const unauth = await fakeGateway(t, () => json(16, 'etcdserver: invalid auth token'));
  const c2 = await createEtcdClient(cfgFor(unauth.port));
  t.after(() => c2.close());
  const auth = await expectEtcdError(() => c2.get('/backend/x'), 'auth');
  assert.match(auth.err.fix, /CN/);

  // code 14 on the first member: the next one serves the read
  const sick = await fakeGateway(t, () => json(14, 'etcdserver: no leader'));
  const writer = await createEtcdClient(cfgFor(cluster.endpoints[0]!.port));
  t.after(() => writer.close());
  assert.equal(await writer.putIfAbsent('/backend/ok', 'v'), true);
  const c3 = await createEtcdClient(cfgFor(sick.port, cluster.endpoints[0]!.port));
  t.after(() => c3.close());
  let served = 0;
  for (let i = 0; i < 4; i++) if ((await c3.get('/backend/ok'))?.value === 'v') served++;
  assert.equal(served, 4);
  const only = await createEtcdClient(cfgFor(sick.port));
  t.after(() => only.close());
  const unavailable = await expectEtcdError(() => only.get('/backend/ok'), 'unavailable');
  assert.match(unavailable.err.message, /no leader/);
  const [member] = await checkMembers(cfgFor(sick.port));
  assert.equal(member?.error?.reason, 'unavailable');

  const garbage = await fakeGateway(t, () => [200, 'application/json', '{"kvs":[{"value":"c2VjcmV0LXJlY29yZA=="']);
  const c4 = await createEtcdClient(cfgFor(garbage.port));
  t.after(() => c4.close());
  const bad = await expectEtcdError(() => c4.getPrefix('/backend/'), 'unavailable');
  assert.doesNotMatch(bad.err.message, /c2VjcmV0|secret-record/);
  assert.match(bad.err.message, /not a JSON object/);

  // a server that accepts and never answers: bounded by requestTimeoutMs, not retried elsewhere
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((s) => sockets.add(s));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const c5 = await createEtcdClient(cfgFor((silent.address() as net.AddressInfo).port), { requestTimeoutMs: 600, transientRetryMs: 0 });
  t.after(() => c5.close());
  const slow = await expectEtcdError(() => c5.getPrefix('/backend/'), 'timeout');
  assert.ok(slow.ms >= 550 && slow.ms < 2000, `took ${slow.ms} ms`);
  assert.match(slow.err.message, /no answer within 600 ms/);
});

test('gateway turned off (HTTP 404): reads fall back to gRPC, results unchanged', async (t) => {
  const cluster = await startEtcd({ members: 1 });
  t.after(() => cluster.stop());
  const port = await gatewayOffProxy(t, cluster.endpoints[0]!.port);
  const client = await createEtcdClient({ endpoints: [{ host: '127.0.0.1', port }] });
  t.after(() => client.close());
  assert.equal(await client.putIfAbsent('/backend/b', 'r'), true);
  assert.ok(viaGateway(client), 'not yet tried');
  assert.equal((await readAllKeyRecords(client)).get('b')?.raw, 'r');
  assert.equal(viaGateway(client), false, 'gave up on the gateway');
  assert.equal((await client.get('/backend/b'))?.value, 'r');
  const [member] = await checkMembers({ endpoints: [{ host: '127.0.0.1', port }] });
  assert.equal(member?.ok, true, member?.error?.message);
  assert.match(member?.version ?? '', /^3\./);
});

test('etcd with auth enabled: the gateway ignores certificate CNs, so reads and status fall back to gRPC', async (t) => {
  const cluster = await startEtcd({ members: 1, tls: true });
  t.after(() => cluster.stop());
  await enableAuthWithPluginRole(cluster);
  const cert = await issueClientCert(cluster.certs!, 'plugin');
  const cfg = tlsCfg(cluster, { clientCert: cert.cert, clientKey: cert.key });
  const client = await createEtcdClient(cfg);
  t.after(() => client.close());
  assert.equal(await client.putIfAbsent('/backend/b', 'r'), true);
  assert.equal((await readAllKeyRecords(client)).get('b')?.raw, 'r');
  assert.equal(viaGateway(client), false);
  await expectEtcdError(() => client.get('/elsewhere'), 'permission');
  const [member] = await checkMembers(cfg);
  assert.equal(member?.ok, true, member?.error?.message);
});

test('importing src/etcd does not load etcd3; gateway reads and checks do not either; the first write does', async (t) => {
  const cluster = await startEtcd({ members: 1 });
  t.after(() => cluster.stop());
  const index = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/etcd/index.js');
  const script = `
    import { createRequire } from 'node:module';
    const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((f) => /[\\\\/]node_modules[\\\\/](etcd3|@grpc)[\\\\/]/.test(f));
    const etcd = await import(${JSON.stringify(index)});
    const out = { afterImport: loaded() };
    const cfg = { endpoints: [{ host: '127.0.0.1', port: ${cluster.endpoints[0]!.port} }] };
    const client = await etcd.createEtcdClient(cfg);
    await etcd.readAllKeyRecords(client);
    await client.get('/backend/x');
    const members = await etcd.checkMembers(cfg);
    out.membersOk = members.every((m) => m.ok);
    out.afterReads = loaded();
    await client.putIfAbsent('/backend/x', 'v');
    out.afterWrite = loaded();
    client.close();
    console.log(JSON.stringify(out));
  `;
  const { stdout } = await execFileP(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000 });
  assert.deepEqual(JSON.parse(stdout), { afterImport: false, membersOk: true, afterReads: false, afterWrite: true });
});

const bundle = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/hpedockerplugin.mjs');

/**
 * A `node --import` hook for the bundled CLI: records, in order, every dist/vendor file the process loads and `GATE`
 * when the start-up gate's report is renamed into place (the gate passed); prints the sequence at exit.
 */
const sequenceHook = `data:text/javascript,${encodeURIComponent(`
  import Module, { syncBuiltinESMExports } from 'node:module';
  import fs from 'node:fs';
  const seq = [];
  const load = Module._load;
  Module._load = function (request, ...rest) {
    const m = /vendor[\\/\\\\]([\\w-]+)\\.cjs$/.exec(request);
    if (m) seq.push(m[1]);
    return load.call(this, request, ...rest);
  };
  const rename = fs.promises.rename;
  fs.promises.rename = (from, to) => rename(from, to).then((r) => { if (String(to).endsWith('last-report.json')) seq.push('GATE'); return r; });
  syncBuiltinESMExports();
  process.on('exit', () => fs.writeSync(2, 'SEQUENCE ' + JSON.stringify(seq) + '\\n'));
`)}`;

function sequenceOf(stderr: string): string[] {
  const m = /^SEQUENCE (.*)$/m.exec(stderr);
  assert.ok(m, `no sequence printed: ${stderr}`);
  return JSON.parse(m[1]!) as string[];
}

test(
  'the bundled CLI: check and the start-up gate of serve load no vendor package (etcd3, express, dockerode)',
  { skip: existsSync(bundle) ? false : 'dist/bin is not built (npm run build)' },
  async (t) => {
    const cluster = await startEtcd({ members: 1 });
    t.after(() => cluster.stop());
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hpe-bundle-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const conf = path.join(dir, 'hpe.conf');
    const closed = await freePort(); // the array probe of check fails at once: not what this test is about
    await writeFile(
      conf,
      `[DEFAULT]\nhost_etcd_ip_address = 127.0.0.1\nhost_etcd_port_number = ${cluster.endpoints[0]!.port}\n` +
        `hpedockerplugin_driver = hpedockerplugin.hpe.hpe_3par_fc.HPE3PARFCDriver\nhpe3par_api_url = https://127.0.0.1:${closed}/api/v1\n` +
        `hpe3par_username = u\nhpe3par_password = p\nsan_ip = 127.0.0.1\nsan_login = u\nsan_password = p\nhpe3par_cpg = FC_r1\n`,
      { mode: 0o600 },
    );

    const check = await execFileP(process.execPath, ['--import', sequenceHook, bundle, 'check', '--json', '--config', conf]).catch(
      (e: { stdout: string; stderr: string }) => e,
    );
    const report = JSON.parse(check.stdout) as { results: { check: string; status: string }[] };
    assert.ok(report.results.some((r) => r.check === 'etcd.keys' && r.status === 'ok'), check.stdout);
    assert.deepEqual(sequenceOf(check.stderr), [], 'check loads no vendor package');

    const state = path.join(dir, 'state');
    const serve = execFile(process.execPath, ['--import', sequenceHook, bundle, 'serve', '--config', conf, '--socket', path.join(dir, 'hpe.sock'), '--state', state]);
    let stderr = '';
    serve.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => serve.on('exit', () => resolve()));
    const started = Date.now();
    while (!existsSync(path.join(dir, 'hpe.sock'))) {
      assert.ok(Date.now() - started < 15_000, `serve did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    serve.kill('SIGTERM');
    await exited;
    const seq = sequenceOf(stderr);
    t.diagnostic(`serve: ${seq.join(' → ')}`);
    assert.equal(seq[0], 'GATE', `vendor packages loaded before the gate passed: ${JSON.stringify(seq)}`);
    assert.ok(seq.includes('express'), `serving needs express, loaded after the gate: ${JSON.stringify(seq)}`);
  },
);
