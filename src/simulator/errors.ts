/** The error a simulator handler throws; the server answers it as the array would: HTTP status + `{code, desc}`. */

export class SimError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    readonly desc: string,
    readonly ref?: string,
  ) {
    super(desc);
  }
}

export function badRequest(code: number, desc: string, ref?: string): SimError {
  return new SimError(400, code, desc, ref);
}

export function notFound(code: number, desc: string): SimError {
  return new SimError(404, code, desc);
}

export function conflict(code: number, desc: string): SimError {
  return new SimError(409, code, desc);
}

export function forbidden(code: number, desc: string): SimError {
  return new SimError(403, code, desc);
}
