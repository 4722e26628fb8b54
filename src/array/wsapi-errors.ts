/**
 * Errors of the WSAPI client. Three kinds, each naming the array and the call:
 *  - `WsapiError`: the array answered with an error status (its `{code, desc, ref}` body kept as is);
 *  - `WsapiConnectionError`: no usable answer (refused, DNS, TLS, timeout, dropped connection);
 *  - `WsapiTaskError`: an array task (physical copy) ended cancelled or failed, or was not done in time.
 * Messages never contain a password or a session key: the client scrubs both from any text it copies in.
 */
import { HpeError } from '../errors.js';
import type { HttpFailureKind } from '../http/index.js';

/**
 * WSAPI error codes (the `code` of an error body). Only the code is a stable contract; `desc` changes between
 * releases. 1–237 as in the WSAPI reference; 45, 46, 55, 145, 180, 181 are named as in python-3parclient's mock
 * server.
 */
export const WsapiCodes = {
  INT_SERV_ERR: 1,
  INV_USER_PASS: 5,
  INV_SESS_KEY: 6,
  URI_RES_NOT_FOUND: 11,
  INV_INPUT: 12,
  PERM_DENIED: 13,
  EXISTENT_CPG: 14,
  NON_EXISTENT_CPG: 15,
  EXISTENT_HOST: 16,
  NON_EXISTENT_HOST: 17,
  EXISTENT_LUN: 18,
  NON_EXISTENT_VLUN: 19,
  NON_EXISTENT_PORT: 20,
  BAD_PORT_TYPE: 21,
  EXISTENT_VOL: 22,
  NON_EXISTENT_VOL: 23,
  NO_SPACE: 24,
  HAS_RO_CHILD: 25,
  EXPORTED_VLUN: 26,
  TOO_LARGE: 28,
  IN_USE: 34,
  INV_INPUT_WRONG_TYPE: 39,
  INV_INPUT_MISSING_REQUIRED: 40,
  INV_INPUT_EXCEEDS_RANGE: 43,
  INV_INPUT_PARAM_CONFLICT: 44,
  INV_INPUT_EMPTY_STR: 45,
  INV_INPUT_BAD_ENUM_VALUE: 46,
  INV_INPUT_PORT_SPECIFICATION: 55,
  INV_INPUT_EXCEEDS_LENGTH: 57,
  EXISTENT_ID: 59,
  INV_INPUT_ILLEGAL_CHAR: 69,
  EXISTENT_PATH: 73,
  NON_EXISTENT_SET: 77,
  INV_INPUT_ONE_REQUIRED: 78,
  NON_EXISTENT_PATH: 80,
  NON_EXISTENT_QOS_RULE: 100,
  EXISTENT_SET: 101,
  EXISTENT_QOS_RULE: 114,
  INV_OPERATION_VV_IN_REMOTE_COPY: 120,
  NON_EXISTENT_TASK: 145,
  VV_BUSY: 151,
  INV_INPUT_VV_GROW_SIZE: 152,
  VV_NEW_SIZE_EXCEED_CPG_LIMIT: 153,
  NON_EXISTENT_OBJECT_KEY: 180,
  EXISTENT_OBJECT_KEY: 181,
  NON_EXISTENT_RCOPY_GROUP: 187,
  EXISTENT_RCOPY_GROUP: 237,
} as const;

export type WsapiCodeName = keyof typeof WsapiCodes;

const codeNames = new Map<number, string>(Object.entries(WsapiCodes).map(([name, code]) => [code, name]));

/** `EXISTENT_VOL` for 22; undefined for a code we do not name. */
export function wsapiCodeName(code: number | undefined): string | undefined {
  return code === undefined ? undefined : codeNames.get(code);
}

const fixByCode: Partial<Record<number, string>> = {
  [WsapiCodes.INV_USER_PASS]:
    'check hpe3par_username and hpe3par_password for this backend (encrypted values must decrypt to the password the array expects)',
  [WsapiCodes.INV_SESS_KEY]: 'retry: the client logs in again on its next call',
  [WsapiCodes.PERM_DENIED]: 'give the WSAPI user a role that allows this operation (edit or super) in the domain of the object',
  [WsapiCodes.NON_EXISTENT_CPG]: 'create the CPG on the array, or correct hpe3par_cpg / hpe3par_snapcpg / -o cpg / -o snapcpg',
  [WsapiCodes.NON_EXISTENT_VOL]: 'check the volume name; the volume may have been removed on the array',
  [WsapiCodes.EXISTENT_VOL]: 'choose another name, or remove the existing volume on the array first',
  [WsapiCodes.NO_SPACE]: 'free space in the CPG or choose another CPG',
  [WsapiCodes.TOO_LARGE]: 'request a smaller size (at most 16 TiB per volume)',
  [WsapiCodes.IN_USE]: 'remove the volume from its VV set or unexport it, then retry',
  [WsapiCodes.HAS_RO_CHILD]: 'remove the snapshots of the volume first',
  [WsapiCodes.VV_BUSY]: 'wait for the task running on the volume (e.g. a physical copy) to finish, then retry',
  [WsapiCodes.NON_EXISTENT_RCOPY_GROUP]: 'create the remote copy group or correct the replicationGroup option',
};

function fixFor(status: number, code: number | undefined): string {
  const byCode = code === undefined ? undefined : fixByCode[code];
  if (byCode !== undefined) return byCode;
  if (status === 503) return 'the array is busy (or out of WSAPI sessions); retry later';
  if (status >= 500) return "check the array's WSAPI service (showwsapi) and its event log";
  return 'see the WSAPI code and description; correct the request or the object on the array';
}

export interface WsapiErrorInit {
  /** Where the client talked to, e.g. `10.0.0.5:8080`. */
  array: string;
  /** The call, e.g. `POST /volumes`; paths carry object names, never session keys. */
  call: string;
  status: number;
  code?: number | undefined;
  desc?: string | undefined;
  ref?: string | undefined;
  /** The body's `debug1` / `debug2`, when the array sent them (scrubbed like `desc`). */
  debug1?: string | undefined;
  debug2?: string | undefined;
}

/** The array answered `call` with an HTTP error. */
export class WsapiError extends HpeError {
  readonly array: string;
  readonly call: string;
  readonly status: number;
  /** The WSAPI code; undefined when the body had none (e.g. a proxy's error page). */
  readonly code: number | undefined;
  readonly desc: string;
  readonly ref: string | undefined;
  readonly debug1: string | undefined;
  readonly debug2: string | undefined;

  constructor(init: WsapiErrorInit, fix?: string) {
    const name = wsapiCodeName(init.code);
    const codeText = init.code === undefined ? '' : `, WSAPI code ${init.code}${name === undefined ? '' : ` ${name}`}`;
    const desc = init.desc ?? '';
    super(
      `array ${init.array}: ${init.call} failed: HTTP ${init.status}${codeText}${desc === '' ? '' : `: ${desc}`}`,
      fix ?? fixFor(init.status, init.code),
      { retryable: init.status === 503 || init.code === WsapiCodes.INV_SESS_KEY },
    );
    this.array = init.array;
    this.call = init.call;
    this.status = init.status;
    this.code = init.code;
    this.desc = desc;
    this.ref = init.ref;
    this.debug1 = init.debug1;
    this.debug2 = init.debug2;
  }
}

/** hpe3parclient's exception class name (`message`) per HTTP status (its `_code_map`). */
const clientStatusTexts: Partial<Record<number, string>> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method Not Allowed',
  406: 'Method Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  412: 'Over limit',
  413: 'Request Entity Too Large',
  414: 'Request URI Too Large',
  415: 'Unsupported Media Type',
  416: 'Requested Range Not Satisfiable',
  417: 'Expectation Failed',
  418: "I'm A Teapot. (RFC 2324)",
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'Version Not Supported',
};

/**
 * The text hpe3parclient gives for this error (`str(ex)` of its HTTP exception), which HPE's plugin passed on
 * to Docker and which scripts grep for: `Not found (HTTP 404) 23 - volume does not exist`, then ` - <ref>`,
 * ` (1: '<debug1>')`, ` (2: '<debug2>')` when present; code 0 and empty parts are left out, as Python's
 * truthiness did. A status hpe3parclient has no class for (it failed on those) reads `HTTP error`.
 */
export function hpe3parClientText(err: WsapiError): string {
  let out = `${clientStatusTexts[err.status] ?? 'HTTP error'} (HTTP ${err.status})`;
  if (err.code) out += ` ${err.code}`;
  if (err.desc) out += ` - ${err.desc}`;
  if (err.ref) out += ` - ${err.ref}`;
  if (err.debug1) out += ` (1: '${err.debug1}')`;
  if (err.debug2) out += ` (2: '${err.debug2}')`;
  return out;
}

export const ConnectionFailureReasons = ['refused', 'dns', 'tls', 'timeout', 'reset', 'protocol', 'other'] as const;
export type ConnectionFailureReason = (typeof ConnectionFailureReasons)[number];

/** How a failed HTTP exchange is named to the admin. */
export function connectionFailureReason(kind: HttpFailureKind): ConnectionFailureReason {
  switch (kind) {
    case 'refused':
    case 'unreachable':
      return 'refused';
    case 'dns':
      return 'dns';
    case 'tlsClientRejected':
    case 'tlsPlainServer':
    case 'tlsUntrusted':
    case 'tls':
      return 'tls';
    // The array dropped the connection before TLS was up: nothing was sent.
    case 'tlsHandshakeDropped':
    case 'reset':
      return 'reset';
    case 'dialTimeout':
    case 'answerTimeout':
      return 'timeout';
    case 'connectTimeout':
    case 'other':
      return 'other';
  }
}

const connectionFixes: Record<ConnectionFailureReason, string> = {
  refused: "check hpe3par_api_url (host and port, usually 8080) and that the array's WSAPI service runs (startwsapi)",
  dns: 'check the host name in hpe3par_api_url, or use the IP address',
  tls: "give the CA certificate that signed the array's WSAPI certificate (or that certificate itself), and use the host name or IP the certificate names",
  timeout: 'check the network path to the array and that its WSAPI service answers; raise the timeout for slow arrays',
  reset: 'the connection dropped; retry, and check the network path to the array',
  protocol: 'check that hpe3par_api_url points at a 3PAR/Primera WSAPI (https://<array>:8080/api/v1)',
  other: 'check hpe3par_api_url and the network path to the array',
};

export interface WsapiConnectionErrorInit {
  /** The URL the client tried, without credentials (e.g. `https://10.0.0.5:8080/api/v1`). */
  url: string;
  call: string;
  reason: ConnectionFailureReason;
  /** The OS or TLS reason, e.g. `ECONNREFUSED` or `self-signed certificate`. */
  detail: string;
  /** True when the request may have reached the array, so a write may or may not have been applied. */
  outcomeUnknown: boolean;
  cause?: unknown;
}

/** No usable answer from the array for `call`. */
export class WsapiConnectionError extends HpeError {
  readonly url: string;
  readonly call: string;
  readonly reason: ConnectionFailureReason;
  readonly detail: string;
  readonly outcomeUnknown: boolean;

  constructor(init: WsapiConnectionErrorInit) {
    const what = init.reason === 'tls' ? 'TLS verification failed' : `cannot reach the WSAPI (${init.reason})`;
    const unknown = init.outcomeUnknown ? '; the array may or may not have applied it' : '';
    super(`${init.url}: ${init.call}: ${what}: ${init.detail}${unknown}`, connectionFixes[init.reason], {
      retryable: !init.outcomeUnknown && (init.reason === 'refused' || init.reason === 'timeout' || init.reason === 'reset'),
      cause: init.cause,
    });
    this.url = init.url;
    this.call = init.call;
    this.reason = init.reason;
    this.detail = init.detail;
    this.outcomeUnknown = init.outcomeUnknown;
  }
}

/** An array task ended without success, or did not end within the wait. */
export class WsapiTaskError extends HpeError {
  readonly taskId: number;
  /** 3 cancelled, 4 failed, or the last status seen when the wait timed out. */
  readonly status: number;
  readonly timedOut: boolean;

  constructor(array: string, taskId: number, status: number, timedOut: boolean, what: string) {
    const state = timedOut ? `still running (status ${status}) after the wait` : status === 3 ? 'was cancelled' : `failed (status ${status})`;
    super(
      `array ${array}: task ${taskId} (${what}) ${state}`,
      timedOut
        ? `check the task on the array (showtask -d ${taskId}); wait longer or cancel it`
        : `see the task's details on the array (showtask -d ${taskId})`,
      { retryable: timedOut },
    );
    this.taskId = taskId;
    this.status = status;
    this.timedOut = timedOut;
  }
}

/** The array said the object does not exist (HTTP 404, whatever the code). */
export function isNotFound(err: unknown): boolean {
  return err instanceof WsapiError && err.status === 404;
}

/** The array answered with this WSAPI code. */
export function hasCode(err: unknown, code: number): boolean {
  return err instanceof WsapiError && err.code === code;
}
