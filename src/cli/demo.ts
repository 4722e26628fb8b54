import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { PrerequisiteError } from '../errors.js';
import { runEncryptor } from './encryptor.js';
import { StdinLines } from './input.js';
import { type Io } from './output.js';
import { runPluginCli } from './plugin-cli.js';

/**
 * `hpedockerplugin demo`: a throw-away etcd on loopback, a demo hpe.conf with two backends and a
 * replication array, encrypted in place, then the prerequisites check. Everything lives in one folder
 * (default ./.demo) and `hpedockerplugin demo --stop` removes it.
 */

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => ok(port));
    });
  });
}

async function startEtcd(dir: string, etcdBinary: string): Promise<{ pid: number; port: number }> {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const log = openSync(join(dir, 'etcd.log'), 'a');
  const url = (p: number) => `http://127.0.0.1:${p}`;
  // etcd reads every ETCD_* variable as a flag: start it with none.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD_')));
  const child = spawn(
    etcdBinary,
    [
      '--name', 'demo', '--data-dir', join(dir, 'etcd-data'), '--logger', 'zap', '--log-outputs', 'stderr',
      '--listen-client-urls', url(clientPort), '--advertise-client-urls', url(clientPort),
      '--listen-peer-urls', url(peerPort), '--initial-advertise-peer-urls', url(peerPort),
      '--initial-cluster', `demo=${url(peerPort)}`, '--heartbeat-interval', '10', '--election-timeout', '100',
    ],
    { detached: true, stdio: ['ignore', log, log], env },
  );
  const failed = new Promise<never>((_, fail) => child.once('error', fail));
  child.unref();
  for (let i = 0; i < 100; i++) {
    const healthy = await Promise.race([
      failed,
      fetch(`${url(clientPort)}/health`).then((r) => r.ok, () => false),
    ]);
    if (healthy) return { pid: child.pid!, port: clientPort };
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  throw new PrerequisiteError('demo-etcd', `etcd did not become healthy; see ${join(dir, 'etcd.log')}`, 'read that log; `make deps` installs etcd-server');
}

function demoConfig(etcdPort: number): string {
  return `# Demo hpe.conf written by \`hpedockerplugin demo\`. The arrays are not real yet: later versions
# point them at the bundled WSAPI simulator.
[DEFAULT]
host_etcd_ip_address = 127.0.0.1
host_etcd_port_number = ${etcdPort}
logging = INFO
hpedockerplugin_driver = hpedockerplugin.hpe.hpe_3par_iscsi.HPE3PARISCSIDriver
hpe3par_api_url = https://127.0.0.1:8080/api/v1
hpe3par_username = 3paradm
hpe3par_password = 3pardata
san_ip = 127.0.0.1
san_login = 3paradm
san_password = 3pardata
hpe3par_cpg = FC_r1
hpe3par_iscsi_ips = 127.0.0.1

# A second array, replicating to a third one.
[3par2]
hpedockerplugin_driver = hpedockerplugin.hpe.hpe_3par_fc.HPE3PARFCDriver
hpe3par_api_url = https://127.0.0.1:8081/api/v1
hpe3par_username = 3paradm
hpe3par_password = array2-secret
san_ip = 127.0.0.1
san_login = 3paradm
san_password = array2-secret
hpe3par_cpg = FC_r5
replication_device = backend_id:remote3par,
                     replication_mode:synchronous,
                     cpg_map:FC_r5:FC_r1,
                     hpe3par_api_url:https://127.0.0.1:8082/api/v1,
                     hpe3par_username:3paradm, hpe3par_password:remote-secret,
                     san_ip:127.0.0.1, san_login:3paradm, san_password:remote-secret
`;
}

async function stopDemo(dir: string, io: Io): Promise<number> {
  const pid = Number(await readFile(join(dir, 'etcd.pid'), 'utf8').catch(() => ''));
  if (pid > 0) {
    try {
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 100; i++) {
        process.kill(pid, 0);
        await sleep(100);
      }
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await rm(dir, { recursive: true, force: true });
  io.out(`demo stopped; ${dir} removed`);
  return 0;
}

export async function runDemo(options: { dir?: string; stop?: boolean; etcdBinary?: string }, io: Io): Promise<number> {
  const dir = resolve(options.dir ?? '.demo');
  if (options.stop) return stopDemo(dir, io);
  await stopDemo(dir, { out: () => {}, err: io.err });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { pid, port } = await startEtcd(dir, options.etcdBinary ?? 'etcd');
  await writeFile(join(dir, 'etcd.pid'), `${pid}\n`);
  const conf = join(dir, 'hpe.conf');
  await writeFile(conf, demoConfig(port), { mode: 0o600 });
  const passphraseFile = join(dir, 'passphrase');
  await writeFile(passphraseFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  io.out(`== etcd on 127.0.0.1:${port} (pid ${pid}); demo config ${conf}`);
  io.out('== hpe3parencryptor encrypt-config --all');
  const enc = await runEncryptor(['encrypt-config', '--all', '--config', conf, '--passphrase-file', passphraseFile], io, process.env, new StdinLines());
  if (enc !== 0) return enc;
  io.out('== hpe3parencryptor status');
  await runEncryptor(['status', '--config', conf], io);
  io.out('== hpedockerplugin check');
  const check = await runPluginCli(['check', '--config', conf], io);
  const cli = (name: string) => `node ${fileURLToPath(new URL(`./${name}.js`, import.meta.url))}`;
  io.out(`
Try next (in this shell):
  export HPEDOCKERPLUGIN_CONFIG=${conf}
  alias hpe3parencryptor='${cli('hpe3parencryptor')}' hpedockerplugin='${cli('hpedockerplugin')}'
  cat $HPEDOCKERPLUGIN_CONFIG                      # the passwords are now enc:v1:<kid>:... values
  hpe3parencryptor -a --passphrase-file ${passphraseFile} - --backend 3par2 <<< 'another-password'
  hpe3parencryptor rotate --backend 3par2          # asks for a new passphrase twice
  hpe3parencryptor status
  hpedockerplugin check --json
Stop it all:  make demo-stop   (or: hpedockerplugin demo --stop --dir ${dir})`);
  return check;
}
