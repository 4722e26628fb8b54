/** Routes `METHOD /segment/:param/...` (paths relative to /api/v1, segments URL-decoded) to handlers. */

export interface SimRequest {
  method: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  /** The session's user. */
  user: string;
}

export interface SimResponse {
  status: number;
  body?: unknown;
  /** Path for the Location header of a create, e.g. `/api/v1/volumes/v1`. */
  location?: string;
}

export type Handler = (req: SimRequest) => SimResponse | Promise<SimResponse>;

interface Route {
  method: string;
  parts: string[];
  handler: Handler;
}

export type RouteMatch = { handler: Handler; params: Record<string, string> } | 'wrong-method' | undefined;

export class Router {
  readonly #routes: Route[] = [];

  on(method: string, pattern: string, handler: Handler): void {
    this.#routes.push({ method, parts: pattern.split('/').filter((p) => p !== ''), handler });
  }

  match(method: string, segments: readonly string[]): RouteMatch {
    let pathKnown = false;
    for (const route of this.#routes) {
      const params = matchParts(route.parts, segments);
      if (params === undefined) continue;
      if (route.method === method) return { handler: route.handler, params };
      pathKnown = true;
    }
    return pathKnown ? 'wrong-method' : undefined;
  }
}

function matchParts(parts: readonly string[], segments: readonly string[]): Record<string, string> | undefined {
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const seg = segments[i]!;
    if (part.startsWith(':')) params[part.slice(1)] = seg;
    else if (part !== seg) return undefined;
  }
  return params;
}
