/** Volume metadata (`/volumes/<v>/objectKeyValues`): keys and values ≤31 characters, 409 181 / 404 180. */
import { WsapiCodes } from '../array/index.js';
import { collection, volumeOr404, type SimContext } from './context.js';
import { conflict, notFound } from './errors.js';
import type { Router } from './router.js';
import { allowOnly, checkName, requireBody, requireString } from './validate.js';

export function registerMetadata(router: Router, ctx: SimContext): void {
  const base = '/volumes/:name/objectKeyValues';
  const volume = (params: Record<string, string>) => volumeOr404(ctx, checkName(params['name'], 'name'));
  const value = (meta: Record<string, string>, key: string): string => {
    if (!Object.hasOwn(meta, key)) throw notFound(WsapiCodes.NON_EXISTENT_OBJECT_KEY, `key '${key}' does not exist`);
    return meta[key]!;
  };

  router.on('GET', base, (req) => {
    const v = volume(req.params);
    return { status: 200, body: collection(Object.entries(v.metadata).map(([key, val]) => ({ key, value: val }))) };
  });

  router.on('POST', base, (req) => {
    const v = volume(req.params);
    const body = requireBody(req.body);
    allowOnly(body, ['key', 'value']);
    const key = requireString(body, 'key', 31);
    const val = requireString(body, 'value', 31);
    if (Object.hasOwn(v.metadata, key)) throw conflict(WsapiCodes.EXISTENT_OBJECT_KEY, `key '${key}' exists`);
    v.metadata = { ...v.metadata, [key]: val };
    ctx.volumeChanged(v.name);
    return { status: 201, location: `/api/v1/volumes/${v.name}/objectKeyValues/${key}` };
  });

  router.on('GET', `${base}/:key`, (req) => {
    const v = volume(req.params);
    const key = req.params['key']!;
    return { status: 200, body: { key, value: value(v.metadata, key) } };
  });

  router.on('PUT', `${base}/:key`, (req) => {
    const v = volume(req.params);
    const key = req.params['key']!;
    value(v.metadata, key);
    const body = requireBody(req.body);
    allowOnly(body, ['value']);
    v.metadata = { ...v.metadata, [key]: requireString(body, 'value', 31) };
    ctx.volumeChanged(v.name);
    return { status: 200 };
  });

  router.on('DELETE', `${base}/:key`, (req) => {
    const v = volume(req.params);
    const key = req.params['key']!;
    value(v.metadata, key);
    const rest = Object.fromEntries(Object.entries(v.metadata).filter(([k]) => k !== key));
    v.metadata = rest;
    ctx.volumeChanged(v.name);
    return { status: 200 };
  });
}
