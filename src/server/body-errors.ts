/**
 * What a client did wrong in a request body, from the errors express.json (body-parser) passes on: each
 * carries a 4xx `status` and usually a `type`. Anything else is our own bug and stays a 500.
 */

/** The fields body-parser's http-errors carry; `encoding` / `charset` are set for the types that name them. */
interface BodyParserError {
  status?: unknown;
  type?: unknown;
  code?: unknown;
  encoding?: unknown;
  charset?: unknown;
  message?: unknown;
}

export interface BodyProblem {
  status: number;
  problem: string;
}

const BodyLimitText = '1 MiB';

/** The 4xx answer for a body the client sent wrong, or undefined when `err` is not such a mistake. */
export function bodyProblem(err: unknown, path: string, contentEncoding: string | undefined): BodyProblem | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as BodyParserError;
  if (typeof e.status !== 'number' || e.status < 400 || e.status > 499) return undefined;
  switch (e.type) {
    case 'entity.parse.failed':
      return { status: 400, problem: `the request body is not valid JSON (${path})` };
    case 'entity.too.large':
      return { status: 413, problem: `the request body is larger than ${BodyLimitText}` };
    case 'charset.unsupported':
      return {
        status: 415,
        problem: `the request body's charset "${String(e.charset)}" is not supported: send JSON in UTF-8 (Content-Type: application/json, or no Content-Type)`,
      };
    case 'encoding.unsupported':
      return {
        status: 415,
        problem: `Content-Encoding "${String(e.encoding)}" is not supported: send the body uncompressed, or compressed with gzip, deflate or br`,
      };
    case 'request.aborted':
      return { status: 400, problem: 'the request was aborted before its whole body arrived' };
    case 'request.size.invalid':
      return { status: 400, problem: 'the request body is not as long as its Content-Length says' };
  }
  if (typeof e.code === 'string' && e.code.startsWith('Z_')) {
    return {
      status: 400,
      problem: `the request body is not ${String(contentEncoding)} data, as its Content-Encoding says: compress the body that way, or drop the Content-Encoding header`,
    };
  }
  return { status: e.status, problem: `the request body could not be read: ${String(e.message)}` };
}
