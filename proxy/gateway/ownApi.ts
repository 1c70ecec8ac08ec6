/**
 * The gateway's own API under /creditgate/v1 (docs/product.md §2, contract): status, credits, windows, usage.
 * Any token reads; only an admin token changes the account (docs/product.md §8 roles). A client token lives in an
 * agent's environment, where the agent's own shell commands can use it: it must not lift its limits.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Status } from '../../shared/protocol';
import { describeIssues } from '../../shared/rateCard';
import { addCreditsSchema, balanceHistorySchema, setPlanSchema, settingsSchema } from '../../shared/requests';
import * as operations from '../accountOperations';
import { balanceHistory } from '../balanceHistory';
import type { AuthenticatedClient } from '../ledger/tokens';
import type { GatewayContext, RequestUrl } from './context';
import { sendError, sendJson } from './respond';
import { streamStatusEvents } from './statusEvents';
import { parseBody, respondChanged } from './ownApiBodies';
import { handleSeatsApi, resetWindows } from './seatsApi';
import { sendUsage } from './usageApi';

export async function handleOwnApi(
  ctx: GatewayContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: RequestUrl,
  client: AuthenticatedClient,
): Promise<void> {
  const route = `${req.method} ${url.pathname.replace(/\/+$/, '')}`;
  // Every method but GET changes something: refused before the body is read or the route is matched,
  // so an endpoint added later is an admin's by default.
  if (req.method !== 'GET' && client.role !== 'admin') return sendError(res, null, 'permission', changeNeedsAdmin(client.name));
  const actor = operations.apiActor(client.name);
  if (route.includes(' /creditgate/v1/seats')) return handleSeatsApi(ctx, req, res, url, client, actor);
  try {
    switch (route) {
      case 'GET /creditgate/v1/status':
        // A member's status is their seat's (docs/product.md §8): its windows, and the pool as credits.
        return sendJson(res, 200, statusFor(ctx, client, await ctx.feedFor(client.seat).current()));
      case 'GET /creditgate/v1/events':
        return streamStatusEvents(ctx.feedFor(client.seat), req, res, (status) => statusFor(ctx, client, status));
      case 'GET /creditgate/v1/credits': {
        // On a team gateway a grant Stripe paid for carries its receipt (price, session, link).
        const grants = await operations.listCredits(ctx.book);
        return sendJson(res, 200, ctx.payments ? await ctx.payments.withReceipts(grants) : grants);
      }
      case 'GET /creditgate/v1/credits/history':
        return sendBalanceHistory(ctx, res, url);
      case 'POST /creditgate/v1/credits': {
        const body = await parseBody(req, res, addCreditsSchema);
        if (body) respondChanged(ctx, res, await operations.addCredits(ctx.book, body, actor));
        return;
      }
      case 'POST /creditgate/v1/windows/reset':
        return resetWindows(ctx, req, res, actor);
      case 'POST /creditgate/v1/plan': {
        const body = await parseBody(req, res, setPlanSchema);
        if (body) respondChanged(ctx, res, await operations.setPlan(ctx.book, body.plan, actor));
        return;
      }
      case 'POST /creditgate/v1/settings': {
        const body = await parseBody(req, res, settingsSchema);
        if (!body) return;
        if (body.autoUseCredits !== undefined) await operations.setAutoUseCredits(ctx.book, body.autoUseCredits, actor);
        if (body.autoReload !== undefined) await operations.setAutoReload(ctx.book, body.autoReload, actor);
        return respondChanged(ctx, res, await ctx.book.status());
      }
      case 'GET /creditgate/v1/rate-card':
        return sendJson(res, 200, ctx.rateCard);
      case 'GET /creditgate/v1/usage':
        // A member reads its own seat's rows; an admin every seat's.
        return sendUsage(ctx, res, url, client.role === 'admin' ? undefined : client.seat);
      default:
        return sendError(res, null, 'not_found', `No such Creditgate endpoint: ${route}`);
    }
  } catch (error) {
    // The caller's mistakes answer here; the ledger's failures reach the server's handler (failures.ts).
    if (error instanceof operations.ConflictError) return sendError(res, null, 'conflict', error.message);
    if (error instanceof operations.OperationError) return sendError(res, null, 'invalid_request', error.message);
    throw error;
  }
}

/**
 * The status as the token sees it: with its role, so that an editor attached to a team gateway shows
 * the admin commands to admins only, without trying a change to find out.
 */
function statusFor(ctx: GatewayContext, client: AuthenticatedClient, status: Status): Status {
  const role = client.role === 'admin' ? 'admin' : 'member';
  // A team gateway also says whether this token may buy credits, so the editor offers Add Credits to the right members.
  if (!ctx.payments) return { ...status, role };
  return { ...status, role, mayBuyCredits: ctx.payments.options({ name: client.name, role: client.role, seat: client.seat }).mayBuy };
}

/** The balance (a team's pool) over time, from the credit log: `?since=ISO&timeZone=Area/City`. */
async function sendBalanceHistory(ctx: GatewayContext, res: ServerResponse, url: RequestUrl): Promise<void> {
  const parsed = balanceHistorySchema.safeParse(Object.fromEntries(new URLSearchParams(url.search)));
  if (!parsed.success) return sendError(res, null, 'invalid_request', describeIssues(parsed.error));
  const since = parsed.data.since === undefined ? undefined : Date.parse(parsed.data.since);
  sendJson(res, 200, balanceHistory(await ctx.book.creditLog(since), { since, timeZone: parsed.data.timeZone }));
}

function changeNeedsAdmin(client: string): string {
  return (
    `The token of "${client}" is a client token: it spends and reads, but changing the account needs an admin token ` +
    '(`creditgate token --name NAME --admin`), the creditgate CLI, or the editor.'
  );
}


