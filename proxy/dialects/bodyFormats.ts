/**
 * Request bodies that are JSON or multipart/form-data (image edits and variations, transcriptions),
 * read from the already buffered bytes. Multipart goes through @fastify/busboy: text fields become
 * strings (or the numbers and booleans a dialect names), files are only measured, never kept.
 *
 * A form whose meaning the gateway and the upstream might read differently (a field sent twice, a
 * name used for a field and a file, a value cut at the size limit, a malformed part) is refused
 * rather than guessed at: the gateway must bill for what the upstream will do.
 */
import Busboy from '@fastify/busboy';

/** A client-facing reason a body cannot be read; the gateway answers it with a 400. */
export class UnreadableBodyError extends Error {}

/** An uploaded file as the dialects see it: its size and what the client said it is. */
export interface UploadedFile {
  bytes: number;
  filename: string | undefined;
  mimeType: string;
}

/** Which form fields are numbers or booleans (everything else stays a string). */
export interface FormFieldTypes {
  numbers?: readonly string[];
  booleans?: readonly string[];
}

const LIMITS = { fieldNameSize: 200, fieldSize: 1024 * 1024, fields: 200, files: 100, parts: 300 };

export function isMultipart(contentType: string | undefined): contentType is string {
  return contentType !== undefined && /^\s*multipart\/form-data\s*(;|$)/i.test(contentType);
}

/**
 * The body as an object for a dialect's validate(): JSON as parsed, or a form's fields (typed as
 * `types` says) with each file field as an array of UploadedFile.
 */
export async function parseJsonOrForm(raw: Buffer, contentType: string | undefined, types: FormFieldTypes): Promise<unknown> {
  if (!isMultipart(contentType)) return parseJsonBody(raw);
  const form = await parseMultipart(raw, contentType);
  const body: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [name, value] of Object.entries(form.fields)) body[name] = typedField(name, value, types);
  for (const [name, files] of Object.entries(form.files)) {
    if (name in body) throw new UnreadableBodyError(`Form field '${name}' is sent both as text and as a file.`);
    body[name] = files;
  }
  return body;
}

export function parseJsonBody(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new UnreadableBodyError('Request body is not valid JSON.');
  }
}

/** A number or boolean field as its value; anything that does not read as one stays the string it was. */
function typedField(name: string, value: string, types: FormFieldTypes): unknown {
  if (types.booleans?.includes(name) && (value === 'true' || value === 'false')) return value === 'true';
  if (types.numbers?.includes(name) && /^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  return value;
}

interface MultipartForm {
  fields: Record<string, string>;
  files: Record<string, UploadedFile[]>;
}

function parseMultipart(raw: Buffer, contentType: string): Promise<MultipartForm> {
  return new Promise((resolve, reject) => {
    const fail = (message: string): void => reject(new UnreadableBodyError(message));
    let parser: InstanceType<typeof Busboy>;
    try {
      parser = new Busboy({ headers: { 'content-type': contentType }, limits: LIMITS });
    } catch (error) {
      return fail(`The multipart/form-data body cannot be read: ${(error as Error).message}.`);
    }
    // Null prototypes: a field named __proto__ is just a field.
    const fields = Object.create(null) as Record<string, string>;
    const files = Object.create(null) as Record<string, UploadedFile[]>;
    parser.on('field', (name, value, nameTruncated, valueTruncated) => {
      if (nameTruncated || valueTruncated) return fail(`Form field '${name}' is longer than Creditgate reads (${LIMITS.fieldSize} bytes).`);
      if (name in fields) return fail(`Form field '${name}' is sent more than once; send it once.`);
      fields[name] = value;
    });
    parser.on('file', (name, stream, filename, _transferEncoding, mimeType) => {
      const file: UploadedFile = { bytes: 0, filename, mimeType };
      (files[name] ??= []).push(file);
      stream.on('data', (chunk: Buffer) => (file.bytes += chunk.length));
    });
    for (const limit of ['partsLimit', 'filesLimit', 'fieldsLimit'] as const) {
      parser.on(limit, () => fail(`The form has more parts than Creditgate reads (${LIMITS.parts} parts, ${LIMITS.files} files, ${LIMITS.fields} fields).`));
    }
    parser.on('error', (error: Error) => fail(`The multipart/form-data body cannot be read: ${error.message}.`));
    // 'finish' comes once every part, file streams included, has been read.
    parser.on('finish', () => resolve({ fields, files }));
    parser.end(raw);
  });
}
