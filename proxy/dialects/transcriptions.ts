/**
 * OpenAI speech to text (POST /v1/audio/transcriptions and /translations): multipart uploads whose
 * `model` is a form field. What the answer reports decides the price:
 *   - `usage: {"type":"tokens", ...}` (gpt-4o transcribe models): input (audio) and output tokens;
 *   - `usage: {"type":"duration","seconds"}`, or `duration` in verbose_json (whisper-1): seconds;
 *   - streamed (`stream=true`): the usage of the final `transcript.text.done` event.
 * Answers as text, srt or vtt report nothing. Those are charged a conservative estimate of the
 * recording's length from the size of the upload, at ESTIMATE_BITS_PER_SECOND (see there), priced
 * per audio second (the card gives token-priced models the vendor's own per-minute figure).
 */
import type { MeteredUsage } from '../../shared/usage';
import { emptyUsage } from '../../shared/usage';
import type { Dialect, Validation } from './types';
import { openAiApi } from './apiFamilies';
import { parseJsonOrForm, type UploadedFile } from './bodyFormats';
import { eventStreamMeter } from './eventStream';
import { field, isObject } from './json';
import { openAiUsage } from './usageFields';
import { firstError, invalid, optionalBoolean, requireModel, requireObjectBody } from './validation';

/**
 * The bitrate the estimate assumes: 32 kbit/s, the low end of what speech is recorded at (voice
 * memos and browser recordings run 32–64 kbit/s compressed, MP3 128, WAV 256 and up). Charging as if
 * every upload were this compact errs towards more seconds, never fewer, for all but very low-rate
 * Opus; the row is flagged as an estimate either way.
 */
export const ESTIMATE_BITS_PER_SECOND = 32_000;

const FORM_TYPES = { booleans: ['stream'], numbers: ['temperature'] };

function isUploadList(value: unknown): value is UploadedFile[] {
  return Array.isArray(value) && value.every((item) => isObject(item) && typeof item.bytes === 'number');
}

function validate(body: unknown): Validation {
  const notObject = requireObjectBody(body);
  if (notObject) return invalid(notObject);
  const fields = body as Record<string, unknown>;
  const file = fields.file;
  const error = firstError(
    requireModel(fields.model),
    isUploadList(file) && file.length === 1
      ? null
      : isUploadList(file)
        ? { message: "Send exactly one 'file'.", param: 'file' }
        : { message: "Missing required parameter: 'file' (a multipart/form-data upload).", param: 'file' },
    optionalBoolean(fields.stream, 'stream'),
  );
  if (error) return invalid(error);
  const upload = (file as UploadedFile[])[0]!;
  return {
    ok: true,
    request: {
      model: fields.model as string,
      stream: fields.stream === true,
      maxOutputTokens: null,
      promptText: typeof fields.prompt === 'string' ? fields.prompt : '',
      fallbackUsage: { ...emptyUsage('openai'), audioSeconds: Math.ceil((upload.bytes * 8) / ESTIMATE_BITS_PER_SECOND) },
    },
  };
}

function transcriptionUsage(body: unknown): MeteredUsage | null {
  if (!isObject(body)) return null;
  const reported = openAiUsage(body.usage);
  if (reported) return reported;
  const duration = body.duration;
  return typeof duration === 'number' && duration >= 0 ? { ...emptyUsage('openai'), audioSeconds: duration } : null;
}

export const transcriptionsDialect: Dialect = {
  name: 'transcriptions',
  ...openAiApi,
  parseRequest: (raw, contentType) => parseJsonOrForm(raw, contentType, FORM_TYPES),
  validate,
  prepare: (body) => ({ body, stripUsageChunk: false }),
  usageFromBody: transcriptionUsage,
  createStreamMeter: () =>
    eventStreamMeter({
      terminalTypes: ['transcript.text.done'],
      usageOf: (event) => openAiUsage(field(event, 'usage')),
      textDeltaType: 'transcript.text.delta',
    }),
};
