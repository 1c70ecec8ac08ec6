/**
 * A team's seats over the gateway's own API (docs/product.md §8), for admins: the same operations as
 * `creditgate seat …`, so a team can be run from any machine that has an admin token.
 *   GET    /creditgate/v1/seats                    every seat's status
 *   POST   /creditgate/v1/seats {name, plan?}      adds a seat: {seat, token} (the token shown once)
 *   POST   /creditgate/v1/seats/NAME/plan {plan}   its plan
 *   POST   /creditgate/v1/seats/NAME/overflow {continueOnPool?, weeklyCap?}
 *   DELETE /creditgate/v1/seats/NAME               removes it: its tokens stop working, its history stays
 * Members may not even list the seats: a member reads its own seat only. Every method but GET already
 * needs an admin (ownApi.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { addSeatSchema, resetWindowsSchema, seatOverflowSchema, setPlanSchema } from '../../shared/requests';
import * as operations from '../accountOperations';
import { LedgerError } from '../ledger/errors';
import type { SeatAdmin } from '../ledger/book';
import type { AuthenticatedClient } from '../ledger/tokens';
import type { GatewayContext, RequestUrl } from './context';
import { parseBody, respondChanged } from './ownApiBodies';
import { sendError, sendJson } from './respond';

const SEATS = '/creditgate/v1/seats';

export async function handleSeatsApi(
  ctx: GatewayContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: RequestUrl,
  client: AuthenticatedClient,
  actor: string,
): Promise<void> {
  if (client.role !== 'admin') return sendError(res, null, 'permission', `Only an admin token reads or changes the team's seats; "${client.name}" is a member's.`);
  const rest = url.pathname.replace(/\/+$/, '').slice(SEATS.length);
  const [, encodedName, action, ...extra] = rest.split('/');
  let name: string | undefined;
  try {
    name = encodedName === undefined ? undefined : decodeURIComponent(encodedName);
  } catch {
    return sendError(res, null, 'invalid_request', 'The seat name in the path is not valid percent-encoding.');
  }
  const route = `${req.method} ${name === undefined ? 'seats' : action === undefined ? 'seat' : `seat/${action}`}`;
  if (extra.length > 0 || (rest !== '' && !rest.startsWith('/'))) return notFound(res, req, url);
  try {
    const seats = operations.seatsOf(ctx.book);
    switch (route) {
      case 'GET seats':
        return sendJson(res, 200, await seats.listSeats());
      case 'POST seats': {
        const body = await parseBody(req, res, addSeatSchema);
        if (!body) return;
        const token = await seats.addSeat(body.name, body.plan, actor);
        return respondChanged(ctx, res, { seat: body.name, token });
      }
      case 'POST seat/plan': {
        const body = await parseBody(req, res, setPlanSchema);
        if (!body) return;
        await seats.setPlan(body.plan, actor, name!);
        return respondChanged(ctx, res, await seats.status(name!));
      }
      case 'POST seat/overflow': {
        const body = await parseBody(req, res, seatOverflowSchema);
        if (!body) return;
        const weeklyCap = body.weeklyCap === undefined || body.weeklyCap === null ? body.weeklyCap : operations.micro(body.weeklyCap, 'weeklyCap');
        await seats.setOverflow(name!, { continueOnPool: body.continueOnPool, weeklyCap }, actor);
        return respondChanged(ctx, res, await seats.status(name!));
      }
      case 'DELETE seat':
        await seats.removeSeat(name!, actor);
        return respondChanged(ctx, res, { removed: name });
      default:
        return notFound(res, req, url);
    }
  } catch (error) {
    return refuse(res, error);
  }
}

/** POST /creditgate/v1/windows/reset [{seat}]: one seat's windows on a team ledger, or every seat's. */
export async function resetWindows(ctx: GatewayContext, req: IncomingMessage, res: ServerResponse, actor: string): Promise<void> {
  const body = await parseBody(req, res, resetWindowsSchema);
  if (!body) return;
  try {
    if (ctx.book.seats === null && body.seat === undefined) return respondChanged(ctx, res, await operations.resetWindows(ctx.book, actor));
    const seats: SeatAdmin = operations.seatsOf(ctx.book);
    await seats.resetWindows(actor, body.seat);
    return respondChanged(ctx, res, await ctx.book.status());
  } catch (error) {
    return refuse(res, error);
  }
}

/** The caller's mistakes in the API's shape; the ledger's own failures go on to the server's handler. */
function refuse(res: ServerResponse, error: unknown): void {
  if (error instanceof LedgerError && error.code === 'unknown_seat') return sendError(res, null, 'not_found', error.message);
  if (error instanceof LedgerError && ['invalid_argument', 'unknown_plan'].includes(error.code)) return sendError(res, null, 'invalid_request', error.message);
  if (error instanceof operations.OperationError) return sendError(res, null, 'invalid_request', error.message);
  throw error;
}

function notFound(res: ServerResponse, req: IncomingMessage, url: RequestUrl): void {
  sendError(res, null, 'not_found', `No such Creditgate endpoint: ${req.method} ${url.pathname}`);
}
