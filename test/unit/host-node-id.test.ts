import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkConfig } from '../../src/config/index.js';
import { ensureNodeId, findNodeId, NodeIdError, type NodeIdPlaces } from '../../src/host/index.js';
import { fcBackendLines } from '../support/configs.js';

const uuid4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const dirs: string[] = [];
after(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** A config folder (with hpe.conf's path; the file itself is not read here) and a state folder, both empty. */
async function host(): Promise<{ configDir: string; stateDir: string; places: (over?: Partial<NodeIdPlaces>) => NodeIdPlaces }> {
  const root = await mkdtemp(join(tmpdir(), 'hpe-node-id-'));
  dirs.push(root);
  const configDir = join(root, 'etc');
  const stateDir = join(root, 'state');
  await mkdir(configDir);
  return { configDir, stateDir, places: (over = {}) => ({ configFile: join(configDir, 'hpe.conf'), stateDir, env: {}, ...over }) };
}

async function rejectsNodeId(p: Promise<unknown>, message: RegExp, fix: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof NodeIdError, String(err));
    assert.match(err.message, message);
    assert.match(err.fix, fix);
    return true;
  });
}

describe('node id: where it comes from', () => {
  it('first found: HPE_NODE_ID, then [DEFAULT].node_id, then .node_id next to hpe.conf, then the state folder\'s', async () => {
    const h = await host();
    await writeFile(join(h.configDir, '.node_id'), 'c1d2e3f4-0000-4000-8000-000000000001');
    await mkdir(h.stateDir);
    await writeFile(join(h.stateDir, '.node_id'), 'from-state');
    const all = h.places({ env: { HPE_NODE_ID: 'from-setting' }, configured: 'from-conf' });

    assert.deepEqual(await findNodeId(all), { found: true, id: 'from-setting', source: 'setting', from: 'HPE_NODE_ID' });
    assert.deepEqual(await findNodeId({ ...all, env: { HPE_NODE_ID: '' } }), {
      found: true,
      id: 'from-conf',
      source: 'config',
      from: `${join(h.configDir, 'hpe.conf')} [DEFAULT].node_id`,
    });
    assert.deepEqual(await findNodeId(h.places()), {
      found: true,
      id: 'c1d2e3f4-0000-4000-8000-000000000001',
      source: 'upstream file',
      from: join(h.configDir, '.node_id'),
    });
    await rm(join(h.configDir, '.node_id'));
    assert.deepEqual(await findNodeId(h.places()), { found: true, id: 'from-state', source: 'state file', from: join(h.stateDir, '.node_id') });
  });

  it('an upstream file with a final newline (written by an editor or echo) gives the id without it', async () => {
    const h = await host();
    await writeFile(join(h.configDir, '.node_id'), 'c1d2e3f4-0000-4000-8000-000000000001\n');
    const found = await findNodeId(h.places());
    assert.equal(found.found && found.id, 'c1d2e3f4-0000-4000-8000-000000000001');
  });

  it('none anywhere: findNodeId writes nothing and says where the id would be created', async () => {
    const h = await host();
    assert.deepEqual(await findNodeId(h.places()), { found: false, createAt: join(h.stateDir, '.node_id') });
    await assert.rejects(stat(h.stateDir), { code: 'ENOENT' });
  });
});

describe('node id: created once, then kept', () => {
  it('ensureNodeId creates <state>/.node_id with a uuid4 in upstream\'s format (no newline), mode 0644, and reads it back on the next start', async () => {
    const h = await host();
    const created = await ensureNodeId(h.places());
    const file = join(h.stateDir, '.node_id');
    assert.equal(created.source, 'created');
    assert.equal(created.from, file);
    assert.match(created.id, uuid4);
    assert.equal(await readFile(file, 'utf8'), created.id);
    assert.equal((await stat(file)).mode & 0o777, 0o644);
    assert.deepEqual(await ensureNodeId(h.places()), { id: created.id, source: 'state file', from: file });
    assert.deepEqual(await readdir(h.configDir), [], 'nothing written in the config folder');
  });

  it('two hosts get different ids', async () => {
    const [a, b] = [await host(), await host()];
    assert.notEqual((await ensureNodeId(a.places())).id, (await ensureNodeId(b.places())).id);
  });

  it('an override is used as is and creates no file', async () => {
    const h = await host();
    assert.deepEqual(await ensureNodeId(h.places({ env: { HPE_NODE_ID: 'node-a' } })), { id: 'node-a', source: 'setting', from: 'HPE_NODE_ID' });
    await assert.rejects(stat(h.stateDir), { code: 'ENOENT' });
  });
});

describe('node id: damaged files and invalid overrides', () => {
  const fix = /write this host's id alone in .*\.node_id.*node_mount_info.*deleting the file is safe/;

  for (const [what, content, problem] of [
    ['empty', '', /is damaged: the id in it is empty/],
    ['whitespace only', ' \n\n', /is damaged: the id in it is empty/],
    ['two lines', 'c1d2e3f4-0000-4000-8000-000000000001\nc1d2e3f4-0000-4000-8000-000000000002\n', /spans more than one line/],
    ['binary', 'ab\u0000\u0001cd', /contains a control character/],
    ['a slash', 'node/a', /contains '\/'/],
    ['too long', 'x'.repeat(129), /is 129 characters long; at most 128/],
  ] as const) {
    it(`a ${what} .node_id next to hpe.conf stops both check and start, naming the file; it is not replaced`, async () => {
      const h = await host();
      const file = join(h.configDir, '.node_id');
      await writeFile(file, content);
      const named = new RegExp(`^${file.replace(/[.]/g, '\\.')} `);
      await rejectsNodeId(findNodeId(h.places()), named, fix);
      await rejectsNodeId(ensureNodeId(h.places()), problem, fix);
      assert.equal(await readFile(file, 'utf8'), content);
      await assert.rejects(stat(h.stateDir), { code: 'ENOENT' }, 'no new id made next to a damaged one');
    });
  }

  it('a damaged state file is named the same way', async () => {
    const h = await host();
    await mkdir(h.stateDir);
    await writeFile(join(h.stateDir, '.node_id'), '{}');
    await rejectsNodeId(ensureNodeId(h.places()), new RegExp(`${join(h.stateDir, '.node_id')} is damaged: the id in it contains '\\{'`), fix);
  });

  it('a .node_id that cannot be read (a folder) is an error naming it, not a reason to make a new id', async () => {
    const h = await host();
    await mkdir(join(h.configDir, '.node_id'));
    await rejectsNodeId(ensureNodeId(h.places()), /\.node_id holds this host's node id but cannot be read \(EISDIR\)/, /make .*\.node_id a regular file/);
  });

  it('an invalid HPE_NODE_ID names the setting and how to set it', async () => {
    const h = await host();
    for (const [value, problem] of [
      ['a/b', /contains '\/'/],
      ['node a', /contains whitespace/],
      ['a\tb', /contains a control character/],
      ['n'.repeat(200), /is 200 characters long/],
    ] as const) {
      await rejectsNodeId(findNodeId(h.places({ env: { HPE_NODE_ID: value } })), new RegExp(`^HPE_NODE_ID \\(plugin setting\\) ${problem.source}`), /docker plugin set hpe HPE_NODE_ID=<id>/);
    }
  });
});

describe('node id: [DEFAULT].node_id in hpe.conf', () => {
  const block = ['[DEFAULT]', ...fcBackendLines];
  const conf = (...extra: string[]) => [...block, ...extra, ''].join('\n');

  it('is read into host.nodeId; absent or empty, it is unset', () => {
    assert.equal(checkConfig(conf('node_id = node-a'), 'hpe.conf').config?.host.nodeId, 'node-a');
    assert.equal(checkConfig(conf(), 'hpe.conf').config?.host.nodeId, undefined);
    assert.equal(checkConfig(conf('node_id ='), 'hpe.conf').config?.host.nodeId, undefined);
  });

  it('an invalid one is a located error with the fix', () => {
    for (const [value, problem] of [
      ['node/a', "contains '/' ('node/a')"],
      ['{node}', "contains '{' ('{node}')"],
      ['node a', "contains whitespace ('node a')"],
      ['x'.repeat(129), 'is 129 characters long; at most 128 are allowed'],
    ] as const) {
      const { errors } = checkConfig(conf(`node_id = ${value}`), 'hpe.conf');
      assert.deepEqual(
        errors.map((e) => e.message),
        [`hpe.conf:9: [DEFAULT].node_id: ${problem}`],
      );
      assert.match(errors[0]!.fix, /at most 128 characters without whitespace, '\/', '\{' or '\}', distinct on every host/);
    }
  });

  it('in a backend section it is ignored with a warning, as other host options', () => {
    const result = checkConfig(conf('[b2]', ...block.slice(1), 'node_id = node-b'), 'hpe.conf');
    assert.equal(result.config?.host.nodeId, undefined);
    assert.ok(result.warnings.some((w) => w.section === 'b2' && w.option === 'node_id'), JSON.stringify(result.warnings));
  });
});
