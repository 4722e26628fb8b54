import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pluginEnabledError } from '../../src/cli/plugin-guard.js';
import { containersUsingPlugin, findEnabledHpePlugins, isOurPlugin, type ContainerSummary, type DockerApi, type PluginSummary } from '../../src/docker/index.js';

const hpe = { Name: 'hpe:latest', Enabled: true, Config: { Interface: { Socket: 'hpe.sock', Types: ['docker.volumedriver/1.0'] } } };

test('a plugin serving hpe.sock as a volume driver is ours, whatever its name', () => {
  assert.equal(isOurPlugin(hpe), true);
  assert.equal(isOurPlugin({ ...hpe, Name: 'store/hpestorage/hpedockervolumeplugin:3.3' }), true);
  const objectTypes = { ...hpe, Config: { Interface: { Socket: 'hpe.sock', Types: [{ Prefix: 'docker', Capability: 'volumedriver', Version: '1.0' }] } } };
  assert.equal(isOurPlugin(objectTypes), true);
});

test('other sockets or plugin types are not ours', () => {
  assert.equal(isOurPlugin({ ...hpe, Config: { Interface: { Socket: 'other.sock', Types: ['docker.volumedriver/1.0'] } } }), false);
  assert.equal(isOurPlugin({ ...hpe, Config: { Interface: { Socket: 'hpe.sock', Types: ['docker.logdriver/1.0'] } } }), false);
});

test('--plugin-name matches that name only, with or without :latest', () => {
  assert.equal(isOurPlugin({ ...hpe, Name: 'mine:latest', Config: {} }, 'mine'), true);
  assert.equal(isOurPlugin(hpe, 'mine'), false);
});

const web = { Id: 'aaaaaaaaaaaaaaaa', Names: ['/web'], Mounts: [{ Type: 'volume', Name: 'v1', Driver: 'hpe:latest' }, { Type: 'volume', Name: 'local1', Driver: 'local' }] };
const db = { Id: 'bbbbbbbbbbbbbbbb', Names: ['/db'], Mounts: [{ Type: 'bind' }, { Type: 'volume', Name: 'v2', Driver: 'hpe' }, { Type: 'volume', Name: 'v3', Driver: 'hpe:latest' }] };
const plain = { Id: 'cccccccccccccccc', Mounts: [{ Type: 'volume', Name: 'x', Driver: 'local' }] };

test('containers using the plugin: only volume mounts whose driver is the plugin, with or without :latest', () => {
  assert.deepEqual(containersUsingPlugin([web, db, plain], 'hpe:latest'), [
    { container: 'web', volumes: ['v1'] },
    { container: 'db', volumes: ['v2', 'v3'] },
  ]);
  assert.deepEqual(containersUsingPlugin([web, db, plain], 'other'), []);
  assert.deepEqual(containersUsingPlugin([{ Id: '0123456789abcdef', Mounts: [{ Type: 'volume', Name: 'v9', Driver: 'hpe' }] }], 'hpe'), [
    { container: '0123456789ab', volumes: ['v9'] },
  ]);
});

function fakeDocker(plugins: PluginSummary[], containers: ContainerSummary[]): () => DockerApi {
  return () => ({ listPlugins: async () => plugins, listContainers: async () => containers });
}

test('an enabled plugin is reported with the running containers that use its volumes', async () => {
  const probe = await findEnabledHpePlugins({}, fakeDocker([hpe, { ...hpe, Name: 'off:latest', Enabled: false }], [web, plain]));
  assert.deepEqual(probe, { reachable: true, enabled: [{ name: 'hpe', users: [{ container: 'web', volumes: ['v1'] }] }] });
  const unreachable = await findEnabledHpePlugins({ dockerHost: 'unix:///x.sock' }, () => ({
    listPlugins: async () => Promise.reject(Object.assign(new Error('connect'), { code: 'ENOENT', address: '/x.sock' })),
    listContainers: async () => [],
  }));
  assert.deepEqual(unreachable, { reachable: false, detail: '/x.sock: ENOENT' });
});

test('the refusal of -a/-d gives `docker plugin disable -f` and says when that is safe', () => {
  const idle = pluginEnabledError({ name: 'hpe', users: [] });
  assert.equal(idle.message, 'the volume plugin hpe is enabled; it must not run while keys change. Nothing was written. No running container uses a volume of hpe');
  assert.match(idle.fix, /^docker plugin disable -f hpe \(-f because a plain disable refuses while any volume of hpe exists; it is safe while no running container uses one\), run this again, then docker plugin enable hpe$/);
  const busy = pluginEnabledError({ name: 'hpe', users: [{ container: 'web', volumes: ['v1'] }, { container: 'db', volumes: ['v2', 'v3'] }] });
  assert.match(busy.message, /Running containers use volumes of hpe: web \(v1\), db \(v2, v3\)$/);
  assert.match(busy.fix, /^docker stop web db, then docker plugin disable -f hpe /);
});
