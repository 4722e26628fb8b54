/**
 * Physical copies (clones) and their tasks, run by copy-tasks.ts. An online copy creates its destination (409 22
 * if it exists; destCPG required); an offline copy needs the destination to exist (404 23) and be at least as
 * large (400 43). Either answers `{taskid}` at once; the task is active (status 2) while the data is copied and
 * done (1) right after; cancelled (3) or failed (4) otherwise. While it runs, source and destination are busy
 * (409 151 on delete, grow, rename).
 */
import { CopyTypes, ProvisioningTypes, TaskStatuses, WsapiCodes } from '../array/index.js';
import { addVolume, provisioningFrom } from './add-volume.js';
import { collection, cpgOr404, isoNow, nextId, volumeOr404, type SimContext } from './context.js';
import { badRequest, conflict, notFound } from './errors.js';
import type { Router, SimResponse } from './router.js';
import type { SimTask } from './state.js';
import { freeCapacityMiB } from './system.js';
import { allowOnly, checkName, optionalBool, optionalInt, optionalString, requireInt, requireBody, type Body } from './validate.js';

/** WSAPI task type of a volume copy. */
const TASK_TYPE_VV_COPY = 1;

const onlineOnlyKeys = ['destCPG', 'snapCPG', 'tpvv', 'tdvv', 'reduce', 'compression'] as const;

export function createPhysicalCopy(ctx: SimContext, sourceName: string, params: Body, user: string): SimResponse {
  allowOnly(params, ['destVolume', 'destCPG', 'online', 'tpvv', 'tdvv', 'reduce', 'compression', 'snapCPG', 'saveSnapshot', 'priority']);
  const destName = checkName(params['destVolume'], 'destVolume');
  const online = optionalBool(params, 'online') ?? false;
  optionalBool(params, 'saveSnapshot');
  const priority = optionalInt(params, 'priority', 1, 3);
  const src = volumeOr404(ctx, sourceName);
  if (destName === src.name) throw badRequest(WsapiCodes.INV_INPUT_PARAM_CONFLICT, 'invalid input: a volume cannot be copied onto itself', 'destVolume');
  let sizeMiB = src.sizeMiB;
  if (online) {
    if (params['destCPG'] === undefined) throw badRequest(WsapiCodes.INV_INPUT_MISSING_REQUIRED, "invalid input: an online copy needs 'destCPG'", 'destCPG');
    const destCPG = cpgOr404(ctx, optionalString(params, 'destCPG', 31)!);
    const snapCPG = optionalString(params, 'snapCPG', 31);
    if (snapCPG !== undefined) cpgOr404(ctx, snapCPG);
    const prov = provisioningFrom(ctx, params, src.sizeMiB);
    if (ctx.state.volumes.has(destName)) throw conflict(WsapiCodes.EXISTENT_VOL, `volume '${destName}' exists (an online copy creates its destination)`);
    if (prov.provisioningType === ProvisioningTypes.FULL && src.sizeMiB > freeCapacityMiB(ctx)) throw badRequest(WsapiCodes.NO_SPACE, 'not enough free space for the copy');
    addVolume(ctx, {
      name: destName,
      sizeMiB: src.sizeMiB,
      ...prov,
      copyType: CopyTypes.PHYSICAL_COPY,
      copyOf: src.name,
      userCPG: destCPG,
      ...(snapCPG === undefined ? {} : { snapCPG }),
      readOnly: false,
    });
  } else {
    for (const k of onlineOnlyKeys) {
      if (params[k] !== undefined) throw badRequest(WsapiCodes.INV_INPUT_PARAM_CONFLICT, `invalid input: '${k}' applies to online copies only`, k);
    }
    const dest = ctx.state.volumes.get(destName);
    if (dest === undefined) throw notFound(WsapiCodes.NON_EXISTENT_VOL, `volume '${destName}' does not exist (an offline copy needs its destination)`);
    if (dest.sizeMiB < src.sizeMiB) {
      throw badRequest(WsapiCodes.INV_INPUT_EXCEEDS_RANGE, `destination '${destName}' (${dest.sizeMiB} MiB) is smaller than the source (${src.sizeMiB} MiB)`, 'destVolume');
    }
    if (ctx.copies.isBusy(destName)) throw conflict(WsapiCodes.VV_BUSY, `volume '${destName}' is busy: a physical copy is running`);
    dest.copyType = CopyTypes.PHYSICAL_COPY;
    dest.copyOf = src.name;
    ctx.volumeChanged(dest.name);
    sizeMiB = dest.sizeMiB;
  }
  const task: SimTask = {
    id: nextId(ctx, 'task'),
    type: TASK_TYPE_VV_COPY,
    name: `${online ? 'online' : 'offline'} copy of ${src.name} to ${destName}`,
    status: TaskStatuses.ACTIVE,
    startTime: isoNow(),
    user,
    ...(priority === undefined ? {} : { priority }),
    source: src.name,
    dest: destName,
    online,
  };
  ctx.state.tasks.push(task);
  ctx.copies.start(task, sizeMiB);
  return { status: 201, body: { taskid: task.id } };
}

function renderTask(t: SimTask): Record<string, unknown> {
  const out: Record<string, unknown> = { id: t.id, type: t.type, name: t.name, status: t.status, startTime: t.startTime, user: t.user };
  if (t.finishTime !== undefined) out['finishTime'] = t.finishTime;
  if (t.priority !== undefined) out['priority'] = t.priority;
  return out;
}

function taskOr404(ctx: SimContext, raw: string | undefined): SimTask {
  if (raw === undefined || !/^-?\d+$/.test(raw)) throw badRequest(WsapiCodes.INV_INPUT_WRONG_TYPE, 'invalid input: the task id must be an integer');
  const id = Number(raw);
  if (id <= 0) throw badRequest(WsapiCodes.INV_INPUT_EXCEEDS_RANGE, 'invalid input: the task id must be positive');
  const task = ctx.state.tasks.find((t) => t.id === id);
  if (task === undefined) throw notFound(WsapiCodes.NON_EXISTENT_TASK, `task ${id} does not exist`);
  return task;
}

export function registerTasks(router: Router, ctx: SimContext): void {
  router.on('GET', '/tasks', () => ({ status: 200, body: collection(ctx.state.tasks.map(renderTask)) }));
  router.on('GET', '/tasks/:id', (req) => ({ status: 200, body: renderTask(taskOr404(ctx, req.params['id'])) }));
  router.on('PUT', '/tasks/:id', (req) => {
    const task = taskOr404(ctx, req.params['id']);
    const body = requireBody(req.body);
    allowOnly(body, ['action']);
    if (requireInt(body, 'action') !== 1) throw badRequest(WsapiCodes.INV_INPUT_BAD_ENUM_VALUE, "invalid input: bad enum value for 'action'", 'action');
    if (task.status !== TaskStatuses.ACTIVE) throw badRequest(WsapiCodes.INV_INPUT, `task ${task.id} is not active`);
    ctx.copies.cancel(task);
    return { status: 200 };
  });
}
