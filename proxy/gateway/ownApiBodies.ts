/**
 * What every change through the gateway's own API does with its body and its answer: the body read
 * within a small limit and validated by its zod schema (a refusal answered in the API's error shape),
 * and the changed status sent back and pushed to the event streams.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describeIssues } from '../../shared/rateCard';
import type * as z from '../../shared/zod';
import type { GatewayContext } from './context';
import { BodyTooLargeError, readBody } from './requestBody';
import { sendError, sendJson } from './respond';

const OWN_BODY_LIMIT = 64 * 1024;

export async function parseBody<T extends z.ZodMiniType>(req: IncomingMessage, res: ServerResponse, schema: T): Promise<z.infer<T> | null> {
  let raw: Buffer;
  try {
    raw = await readBody(req, OWN_BODY_LIMIT);
  } catch (error) {
    if (error instanceof BodyTooLargeError) sendError(res, null, 'too_large', error.message);
    return null;
  }
  let json: unknown;
  try {
    json = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
  } catch {
    sendError(res, null, 'invalid_request', 'Request body is not valid JSON.');
    return null;
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    sendError(res, null, 'invalid_request', describeIssues(parsed.error));
    return null;
  }
  return parsed.data;
}

export function respondChanged(ctx: GatewayContext, res: ServerResponse, status: unknown): void {
  ctx.feed.changed();
  sendJson(res, 200, status);
}
