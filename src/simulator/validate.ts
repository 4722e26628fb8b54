/**
 * Input checks shared by the resources, with the WSAPI codes an array answers: unknown parameter 12, missing
 * 40, wrong type 39, empty string 45, too long 57, illegal character 69, out of range 43, bad enum value 46.
 */
import { WsapiCodes } from '../array/index.js';
import { badRequest } from './errors.js';

export type Body = Record<string, unknown>;

/** Characters an array accepts in object names (volumes, hosts, sets, groups). */
const namePattern = /^[A-Za-z0-9_.-]+$/;

export function requireBody(body: unknown): Body {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest(WsapiCodes.INV_INPUT, 'invalid input: the body must be a JSON object');
  return body as Body;
}

/** Unknown parameters are refused (400 code 12), as the array does; it catches typos in the driver. */
export function allowOnly(body: Body, allowed: readonly string[]): void {
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) throw badRequest(WsapiCodes.INV_INPUT, `invalid input: unknown parameter '${key}'`, key);
  }
}

export function checkName(value: unknown, field: string, max = 31): string {
  if (value === undefined || value === null) throw badRequest(WsapiCodes.INV_INPUT_MISSING_REQUIRED, `invalid input: missing required parameter '${field}'`, field);
  if (typeof value !== 'string') throw badRequest(WsapiCodes.INV_INPUT_WRONG_TYPE, `invalid input: '${field}' must be a string`, field);
  if (value === '') throw badRequest(WsapiCodes.INV_INPUT_EMPTY_STR, `invalid input: '${field}' is empty`, field);
  if (value.length > max) throw badRequest(WsapiCodes.INV_INPUT_EXCEEDS_LENGTH, `invalid input: '${field}' exceeds ${max} characters`, field);
  if (!namePattern.test(value)) throw badRequest(WsapiCodes.INV_INPUT_ILLEGAL_CHAR, `invalid input: illegal character in '${field}'`, field);
  return value;
}

export function optionalName(body: Body, field: string, max = 31): string | undefined {
  return body[field] === undefined ? undefined : checkName(body[field], field, max);
}

export function requireString(body: Body, field: string, max = 1024): string {
  const v = body[field];
  if (v === undefined || v === null) throw badRequest(WsapiCodes.INV_INPUT_MISSING_REQUIRED, `invalid input: missing required parameter '${field}'`, field);
  if (typeof v !== 'string') throw badRequest(WsapiCodes.INV_INPUT_WRONG_TYPE, `invalid input: '${field}' must be a string`, field);
  if (v === '') throw badRequest(WsapiCodes.INV_INPUT_EMPTY_STR, `invalid input: '${field}' is empty`, field);
  if (v.length > max) throw badRequest(WsapiCodes.INV_INPUT_EXCEEDS_LENGTH, `invalid input: '${field}' exceeds ${max} characters`, field);
  return v;
}

export function optionalString(body: Body, field: string, max = 1024): string | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw badRequest(WsapiCodes.INV_INPUT_WRONG_TYPE, `invalid input: '${field}' must be a string`, field);
  if (v.length > max) throw badRequest(WsapiCodes.INV_INPUT_EXCEEDS_LENGTH, `invalid input: '${field}' exceeds ${max} characters`, field);
  return v;
}

export function requireInt(body: Body, field: string): number {
  const v = body[field];
  if (v === undefined || v === null) throw badRequest(WsapiCodes.INV_INPUT_MISSING_REQUIRED, `invalid input: missing required parameter '${field}'`, field);
  if (typeof v !== 'number' || !Number.isInteger(v)) throw badRequest(WsapiCodes.INV_INPUT_WRONG_TYPE, `invalid input: '${field}' must be an integer`, field);
  return v;
}

export function optionalInt(body: Body, field: string, min?: number, max?: number): number | undefined {
  if (body[field] === undefined) return undefined;
  const v = requireInt(body, field);
  if ((min !== undefined && v < min) || (max !== undefined && v > max)) {
    throw badRequest(WsapiCodes.INV_INPUT_EXCEEDS_RANGE, `invalid input: '${field}' must be between ${min ?? '-'} and ${max ?? '-'}`, field);
  }
  return v;
}

export function optionalBool(body: Body, field: string): boolean | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw badRequest(WsapiCodes.INV_INPUT_WRONG_TYPE, `invalid input: '${field}' must be a boolean`, field);
  return v;
}

export function optionalEnum(body: Body, field: string, values: readonly number[]): number | undefined {
  if (body[field] === undefined) return undefined;
  const v = requireInt(body, field);
  if (!values.includes(v)) throw badRequest(WsapiCodes.INV_INPUT_BAD_ENUM_VALUE, `invalid input: bad enum value for '${field}'`, field);
  return v;
}

export function optionalObject(body: Body, field: string, allowed: readonly string[]): Body | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badRequest(WsapiCodes.INV_INPUT_WRONG_TYPE, `invalid input: '${field}' must be an object`, field);
  allowOnly(v as Body, allowed);
  return v as Body;
}

export function optionalStringList(body: Body, field: string): string[] | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw badRequest(WsapiCodes.INV_INPUT_WRONG_TYPE, `invalid input: '${field}' must be a list of strings`, field);
  return v as string[];
}

/** A `true`/`false` query parameter. */
export function queryFlag(query: URLSearchParams, name: string): boolean | undefined {
  const v = query.get(name);
  if (v === null) return undefined;
  if (v !== 'true' && v !== 'false') throw badRequest(WsapiCodes.INV_INPUT_WRONG_TYPE, `invalid input: '${name}' must be true or false`, name);
  return v === 'true';
}
