/** Multipart/form-data bodies for tests, encoded by the platform's own FormData (as SDKs send them). */
export interface EncodedForm {
  body: Buffer;
  contentType: string;
}

export async function encodeForm(parts: [string, string | Blob, string?][]): Promise<EncodedForm> {
  const form = new FormData();
  for (const [name, value, filename] of parts) {
    if (typeof value === 'string') form.append(name, value);
    else form.append(name, value, filename ?? 'upload.bin');
  }
  const request = new Request('http://form.invalid/', { method: 'POST', body: form });
  return { body: Buffer.from(await request.arrayBuffer()), contentType: request.headers.get('content-type')! };
}

/** Bytes standing in for a recording or an image upload. */
export function fakeFile(bytes: number, type = 'audio/mpeg'): Blob {
  return new Blob([new Uint8Array(bytes).fill(7)], { type });
}
