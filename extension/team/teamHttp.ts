/**
 * The gateway's own HTTP API (/creditgate/v1, docs/product.md §2 and §8) as a team gateway's member
 * or admin calls it: a bearer token on every request, the API's error shape turned into an error
 * that says what to do. The token goes in the Authorization header only, never in a URL or a message.
 */
export type TeamFailure =
  /** The gateway refused the token (401): it was revoked, mistyped, or is for another gateway. */
  | 'unauthorized'
  /** The token may not do this (403): a member asking for an admin's change. */
  | 'forbidden'
  /** No answer: the address is wrong, the gateway is down, or the network is. */
  | 'unreachable'
  /** Any other refusal, with the gateway's own message. */
  | 'refused';

export class TeamGatewayError extends Error {
  constructor(
    readonly failure: TeamFailure,
    message: string,
    readonly httpStatus: number | null = null,
  ) {
    super(message);
  }
}

/** How long a plain request may take; the event stream has no such limit. */
const REQUEST_TIMEOUT_MS = 15_000;

export class TeamGatewayHttp {
  readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly token: string,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  async getJson(pathAndQuery: string): Promise<{ body: unknown; headers: Headers }> {
    const res = await this.send(pathAndQuery, { method: 'GET' }, AbortSignal.timeout(REQUEST_TIMEOUT_MS));
    return { body: await readJson(res), headers: res.headers };
  }

  async postJson(path: string, body: unknown): Promise<unknown> {
    const init = { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };
    return readJson(await this.send(path, init, AbortSignal.timeout(REQUEST_TIMEOUT_MS)));
  }

  /** GET /creditgate/v1/events: the open stream's body, once the gateway answered 200. */
  async openEvents(signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const res = await this.send('/creditgate/v1/events', { method: 'GET', headers: { accept: 'text/event-stream' } }, signal);
    if (!res.body) throw new TeamGatewayError('unreachable', `${this.baseUrl} answered the event stream without a body`);
    return res.body;
  }

  private async send(path: string, init: RequestInit, signal: AbortSignal): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, { ...init, signal, headers: { ...init.headers, authorization: `Bearer ${this.token}` } });
    } catch (error) {
      throw new TeamGatewayError('unreachable', `${this.baseUrl} cannot be reached (${networkReason(error)})`);
    }
    if (res.ok) return res;
    const message = await errorMessage(res);
    if (res.status === 401) throw new TeamGatewayError('unauthorized', `${this.baseUrl} refused the token: ${message}`, 401);
    if (res.status === 403) throw new TeamGatewayError('forbidden', message, 403);
    throw new TeamGatewayError(res.status >= 500 ? 'unreachable' : 'refused', `${this.baseUrl}: ${message}`, res.status);
  }
}

async function readJson(res: Response): Promise<unknown> {
  try {
    return await res.json();
  } catch {
    throw new TeamGatewayError('refused', `${res.url} did not answer JSON: is this a Creditgate gateway?`, res.status);
  }
}

/** The message of the API's error shape (`{"error":{"message"}}`), else the HTTP status. */
async function errorMessage(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === 'string') return message;
  } catch {
    // not JSON: a proxy's page, say
  }
  return `HTTP ${res.status} ${res.statusText}`.trim();
}

/** fetch hides the cause (ECONNREFUSED, a certificate error, a timeout) behind "fetch failed". */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (error instanceof Error && error.name === 'TimeoutError') return 'no answer in time';
  return cause?.code ?? cause?.message ?? (error as Error).message;
}
