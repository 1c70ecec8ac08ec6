/**
 * Checks of the request fields the gateway reads (docs/product.md §6 Validation). Each returns an error message
 * naming the field, or null. No stricter than the vendors' APIs: an optional field set to null is
 * treated as absent, as the APIs do.
 */
import type { Validation } from './types';

export type FieldError = { message: string; param: string } | null;

export function invalid(error: NonNullable<FieldError>): Validation {
  return { ok: false, message: error.message, param: error.param };
}

export function requireObjectBody(body: unknown): FieldError {
  return typeof body === 'object' && body !== null && !Array.isArray(body)
    ? null
    : { message: 'The request body must be a JSON object.', param: '' };
}

export function requireModel(value: unknown): FieldError {
  if (typeof value === 'string' && value.length > 0) return null;
  return value === undefined || value === null
    ? { message: "Missing required parameter: 'model'.", param: 'model' }
    : { message: "Invalid type for 'model': expected a non-empty string.", param: 'model' };
}

/**
 * A required `input` (or other field) that must be a string, or, when `arrayOf` names what its items
 * are, a string or an array of them.
 */
export function requireInput(value: unknown, param = 'input', arrayOf: string | null = 'an array'): FieldError {
  if (value === undefined || value === null) return { message: `Missing required parameter: '${param}'.`, param };
  if (typeof value === 'string' || (arrayOf !== null && Array.isArray(value))) return null;
  return { message: `Invalid type for '${param}': expected a string${arrayOf === null ? '' : ` or ${arrayOf}`}.`, param };
}

export function optionalModel(value: unknown): FieldError {
  return value === undefined || value === null || typeof value === 'string'
    ? null
    : { message: "Invalid type for 'model': expected a string.", param: 'model' };
}

export function optionalBoolean(value: unknown, param: string): FieldError {
  return value === undefined || value === null || typeof value === 'boolean'
    ? null
    : { message: `Invalid type for '${param}': expected a boolean.`, param };
}

export function optionalCount(value: unknown, param: string): FieldError {
  if (value === undefined || value === null) return null;
  return typeof value === 'number' && Number.isInteger(value) && value >= 0
    ? null
    : { message: `Invalid value for '${param}': expected a non-negative integer.`, param };
}

export function requireArray(value: unknown, param: string): FieldError {
  if (Array.isArray(value)) return null;
  return value === undefined || value === null
    ? { message: `Missing required parameter: '${param}'.`, param }
    : { message: `Invalid type for '${param}': expected an array.`, param };
}

/** The first error among the checks, in the order given. */
export function firstError(...errors: FieldError[]): FieldError {
  for (const error of errors) if (error !== null) return error;
  return null;
}

export function countOrNull(value: unknown): number | null {
  return typeof value === 'number' ? value : null;
}
