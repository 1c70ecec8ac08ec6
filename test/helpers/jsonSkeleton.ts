/**
 * What the gateway hands a dialect for a large response body: the `usage` objects (top level and
 * inside `response` / `message`), the top-level scalars, top-level arrays as arrays of `{}` of the
 * same length, and other top-level objects as `{}`. Dialects must read usage from this as from the
 * full body.
 */
export function jsonSkeleton(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const skeleton: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    if (key === 'usage') skeleton[key] = value;
    else if (Array.isArray(value)) skeleton[key] = value.map(() => ({}));
    else if (typeof value === 'object' && value !== null) {
      const usage = (value as Record<string, unknown>).usage;
      skeleton[key] = (key === 'response' || key === 'message') && usage !== undefined ? { usage } : {};
    } else skeleton[key] = value;
  }
  return skeleton;
}
