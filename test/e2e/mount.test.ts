/**
 * End to end, the data path as containers meet it: a REAL dockerd with the REAL managed plugin, a REAL etcd and
 * the WSAPI simulator (the only stand-in: its volumes are sparse files, which the plugin attaches as loop devices
 * because the array says it is the simulator). `docker run -v` writes and reads through ext4 and xfs on those
 * devices; nothing (loop device, mount, VLUN, host entry) is left afterwards.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { WsapiClient } from '../../src/array/index.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import type { Dockerd } from '../support/dockerd.js';
import { loopDevicesOf, startWorld, stopWorld, type World } from '../support/e2e-world.js';

const plugin = 'hpe';
const arrayPassword = 'E2e-Mount-Pw-17';

let world: World | undefined;
let dockerd: Dockerd;
let sim: RunningSimulator;
let simRoot: string;
let image: string;

const docker = (args: string[], timeoutMs = 90_000) => dockerd.docker(args, { timeoutMs });
const dockerOk = (args: string[], timeoutMs = 90_000) => dockerd.dockerOk(args, { timeoutMs });
/** `docker run --rm -v <vol>:/data <image> sh -c <script>`: stdout, or the failure with the plugin's log. */
async function run(volume: string, script: string, extra: string[] = []): Promise<string> {
  const r = await docker(['run', '--rm', ...extra, '-v', volume.includes(':') ? volume : `${volume}:/data`, image, 'sh', '-c', script]);
  assert.equal(r.code, 0, `docker run -v ${volume}:/data sh -c '${script}' failed: ${r.stderr}\n${(await dockerd.pluginLog(plugin)).slice(-15).join('\n')}`);
  return r.stdout;
}

async function arrayClient(): Promise<WsapiClient> {
  return new WsapiClient({ apiUrl: sim.apiUrl, username: '3paradm', password: arrayPassword });
}

before(
  async () => {
    world = await startWorld({ plugin, arrayPassword });
    ({ dockerd, sim, simRoot } = world);
    image = world.image!;
  },
  { timeout: 240_000 },
);

after(
  async () => {
    if (world) await stopWorld(world);
  },
  { timeout: 120_000 },
);

describe('docker run -v with hpe volumes', () => {
  test('a container writes to a new volume (ext4 made at the first mount) and a later one reads the same bytes', async (t) => {
    await dockerOk(['volume', 'create', '-d', plugin, '-o', 'size=1', 'v1']);
    const t0 = Date.now();
    await run('v1', 'echo hello from the first container > /data/f && grep " /data " /proc/mounts');
    t.diagnostic(`first docker run -v (attach, mkfs.ext4 of 1 GiB, mount) took ${Date.now() - t0} ms`);
    assert.equal((await run('v1', 'cat /data/f')).trim(), 'hello from the first container');
    const mounts = await run('v1', 'grep " /data " /proc/mounts');
    assert.match(mounts, /^\/dev\/loop\d+ \/data ext4 rw/m);
    const [info] = JSON.parse(await dockerOk(['volume', 'inspect', 'v1'])) as { Mountpoint: string; CreatedAt: string }[];
    assert.equal(info!.Mountpoint, '', 'not mounted now: no mountpoint');
    assert.ok(!Number.isNaN(Date.parse(info!.CreatedAt)), `CreatedAt is a real time: ${info!.CreatedAt}`);
  });

  test('two containers share one mount; when one stops the other still reads and writes; rm is refused while in use', async () => {
    await dockerOk(['volume', 'create', '-d', plugin, '-o', 'size=1', 'v2']);
    for (const name of ['ca', 'cb']) await dockerOk(['run', '-d', '--name', name, '-v', 'v2:/data', image, 'sleep', '600']);
    await dockerOk(['exec', 'ca', 'sh', '-c', 'echo from-a > /data/a']);
    assert.equal((await dockerOk(['exec', 'cb', 'cat', '/data/a'])).trim(), 'from-a');
    const [inUse] = JSON.parse(await dockerOk(['volume', 'inspect', 'v2'])) as { Mountpoint: string; Status: Record<string, unknown> }[];
    assert.match(inUse!.Mountpoint, /^\/opt\/hpe\/data\/hpedocker-dcv-/);
    await dockerOk(['rm', '-f', 'ca']);
    await dockerOk(['exec', 'cb', 'sh', '-c', 'echo from-b > /data/b']);
    assert.equal((await dockerOk(['exec', 'cb', 'cat', '/data/a', '/data/b'])).trim(), 'from-a\nfrom-b');
    const refused = await docker(['volume', 'rm', 'v2']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /in use/);
    await dockerOk(['rm', '-f', 'cb']);
    await dockerOk(['volume', 'rm', 'v2']);
  });

  test('a clone and a snapshot show the parent\'s data; the snapshot is read-only', async () => {
    await dockerOk(['volume', 'create', '-d', plugin, '-o', 'cloneOf=v1', 'c1']);
    await dockerOk(['volume', 'create', '-d', plugin, '-o', 'virtualCopyOf=v1', 's1']);
    assert.equal((await run('c1', 'cat /data/f')).trim(), 'hello from the first container');
    await run('c1', 'echo clone-only > /data/g');
    assert.equal((await run('s1', 'cat /data/f')).trim(), 'hello from the first container');
    assert.match(await run('s1', 'grep " /data " /proc/mounts'), / \/data ext4 ro/);
    const write = await docker(['run', '--rm', '-v', 's1:/data', image, 'sh', '-c', 'echo x > /data/x']);
    assert.notEqual(write.code, 0, 'a snapshot cannot be written');
    assert.equal((await run('v1', 'ls /data')).split('\n').includes('g'), false, 'the clone is a copy: the parent did not change');
  });

  test('-o fsType=xfs makes xfs; fsOwner and fsMode are applied to the new filesystem', async () => {
    await dockerOk(['volume', 'create', '-d', plugin, '-o', 'size=1', '-o', 'fsType=xfs', 'x1']);
    assert.match(await run('x1', 'grep " /data " /proc/mounts'), / \/data xfs rw/);
    await dockerOk(['volume', 'create', '-d', plugin, '-o', 'size=1', '-o', 'fsOwner=1000:1001', '-o', 'fsMode=0750', 'o1']);
    // `:nocopy`: else Docker copies the image's /data (root, 0755) onto an empty volume, its owner and mode included.
    assert.equal((await run('o1:/data:nocopy', 'stat -c "%u:%g %a" /data && ls -A /data')).trim(), '1000:1001 750', 'owner, mode, and no lost+found');
    const bad = await docker(['volume', 'create', '-d', plugin, '-o', 'fsType=btrfs', 'x2']);
    assert.match(bad.stderr, /Invalid value 'btrfs' specified for fsType\. Valid values are: \['ext4', 'xfs'\]/);
  });

  test('docker plugin disable -f and enable with a stopped container: it starts and mounts again', async () => {
    await dockerOk(['create', '--name', 'ck', '-v', 'v1:/data', image, 'cat', '/data/f']);
    await dockerOk(['plugin', 'disable', '-f', plugin]);
    await dockerOk(['plugin', 'enable', plugin]);
    assert.equal((await dockerOk(['start', '-a', 'ck'])).trim(), 'hello from the first container');
    await dockerOk(['rm', 'ck']);
  });

  test('after removing every volume: no VLUN, host entry, loop device or mount is left', async () => {
    for (const v of ['s1', 'c1', 'v1', 'x1', 'o1']) await dockerOk(['volume', 'rm', v]);
    const client = await arrayClient();
    try {
      assert.deepEqual(await client.getVluns(), []);
      assert.deepEqual(await client.getHosts(), []);
    } finally {
      await client.close();
    }
    assert.deepEqual(loopDevicesOf(simRoot), []);
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes('hpedocker-dcv-'));
    assert.deepEqual(mounts, []);
    assert.equal(readFileSync(dockerd.logPath, 'utf8').includes(arrayPassword), false, 'no password in the plugin log');
  });
});
