/** A configuration that cannot be used; the message lists every problem, one per line. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly issues: readonly string[];

  constructor(issues: readonly string[]) {
    super(issues.length === 1 ? issues[0] : `invalid configuration:\n${issues.map((line) => `  ${line}`).join('\n')}`);
    this.issues = issues;
  }
}
