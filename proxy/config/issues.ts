/** Turns zod issues into one line per problem, each naming the exact key: `plans.team.windows.5h: …`. */
import type * as z from '../../shared/zod';

type Issue = z.core.$ZodIssue;

export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === 'number') return `${out}[${key}]`;
    return out ? `${out}.${String(key)}` : String(key);
  }, '');
}

const SECRET_KEY = /key|token|secret|password/i;

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value}`;
}

const withArticle = (noun: string): string => (/^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`);

function issueLines(issue: Issue, prefix: readonly PropertyKey[]): string[] {
  const path = [...prefix, ...issue.path];
  const where = formatPath(path) || '(top level)';
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => {
        const hint = SECRET_KEY.test(key)
          ? ' (API keys are never read from the config: set OPENAI_API_KEY / ANTHROPIC_API_KEY in the environment)'
          : '';
        return `${formatPath([...path, key])}: unknown key${hint}`;
      });
    case 'invalid_type':
      return [
        issue.input === undefined
          ? `${where}: missing (expected ${withArticle(issue.expected)})`
          : `${where}: expected ${withArticle(issue.expected)}, got ${describeValue(issue.input)}`,
      ];
    default:
      return [`${where}: ${issue.message}`];
  }
}

/** One line per issue. Parse with `{ reportInput: true }` so type errors can say what they got. */
export function describeIssues(error: z.core.$ZodError, prefix: readonly PropertyKey[] = []): string[] {
  return error.issues.flatMap((issue) => issueLines(issue, prefix));
}
