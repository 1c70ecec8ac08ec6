/** Small, allocation-light readers for untyped JSON from clients and upstreams. */

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A token count as reported: a non-negative finite number, else 0 (a missing field counts nothing). */
export function tokenCount(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

/** `value[key]` when value is an object, else undefined. */
export function field(value: unknown, key: string): unknown {
  return isObject(value) ? value[key] : undefined;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The first `"type":"…"` in a JSON text, found without parsing. Vendors serialize the event's own
 * type first, so this names an event whose `event:` line is missing (some compatible upstreams).
 */
export function sniffJsonType(data: string): string {
  const marker = '"type":"';
  const start = data.indexOf(marker);
  if (start < 0) return '';
  const valueStart = start + marker.length;
  const end = data.indexOf('"', valueStart);
  return end < 0 ? '' : data.slice(valueStart, end);
}

/**
 * Keys whose strings are not prompt text a tokenizer should count: identifiers, enum values, and
 * opaque blobs (base64 images and files, encrypted reasoning) that would inflate an estimate wildly.
 */
const NOT_PROMPT_TEXT = new Set([
  'type',
  'id',
  'role',
  'status',
  'call_id',
  'media_type',
  'encrypted_content',
  'signature',
  'data',
  'file_data',
  'image_url',
  'cache_control',
  'detail',
]);

/** Every prompt string under `value`, in document order, for a tokenizer-based input estimate. */
export function collectPromptText(value: unknown, into: string[] = []): string[] {
  if (typeof value === 'string') {
    if (!value.startsWith('data:')) into.push(value);
  } else if (Array.isArray(value)) {
    for (const item of value) collectPromptText(item, into);
  } else if (isObject(value)) {
    for (const key in value) if (!NOT_PROMPT_TEXT.has(key)) collectPromptText(value[key], into);
  }
  return into;
}

/** Tool definitions reach the model as their JSON schema text; count them that way. */
export function toolsText(tools: unknown): string {
  return Array.isArray(tools) && tools.length > 0 ? JSON.stringify(tools) : '';
}

export function joinText(parts: readonly string[]): string {
  return parts.filter((part) => part.length > 0).join('\n');
}
