/**
 * Human-readable output of the CLI (the `--json` output is the protocol shapes, unformatted). Every
 * name that came from a client or a config goes through printable(): it may carry terminal escapes.
 */
import { formatDuration } from '../shared/format';
import type { GrantReceipt } from '../shared/payments';
import type { GrantRow, Status, UsageGroup, UsageGroupKey, UsageRow } from '../shared/protocol';
import { printable } from './terminalText';

const credits = (value: number): string => value.toLocaleString('en-US', { maximumFractionDigits: 6 });

export function formatStatus(status: Status, now: number): string {
  const lines = [`plan ${printable(status.plan)} · state ${status.state} · auto-use of credits ${status.autoUseCredits ? 'on' : 'off'}`];
  if (status.planWarning) lines.push(`  warning: ${printable(status.planWarning)}`);
  if (status.unpricedModels) {
    const models = status.unpricedModels.map((model) => printable(model)).join(', ');
    lines.push(`  not on the rate card, billed at its default price: ${models} (add them to a rate card of your own to price them)`);
  }
  for (const window of status.windows) {
    const reset = window.resetsAt === null ? 'not started' : `resets ${window.resetsAt} (in ${formatDuration(Date.parse(window.resetsAt) - now)})`;
    lines.push(
      `  ${window.name.padEnd(7)} ${credits(window.used)} / ${credits(window.limit)} credits used (${window.usedPercent.toFixed(1)}%), ${reset}`,
    );
  }
  const c = status.credits;
  lines.push(`  credits balance ${credits(c.balance)} · held ${credits(c.held)} · available ${credits(c.available)}`);
  return lines.join('\n');
}

export function formatGrants(grants: readonly GrantRow[]): string {
  if (grants.length === 0) return 'no credit grants yet';
  return grants
    .map(
      (g) =>
        `#${g.id} ${g.ts} ${printable(g.source).padEnd(8)} ${credits(g.amount).padStart(10)} cr, ${credits(g.remaining)} left` +
        `${g.expiresAt ? `, expires ${g.expiresAt}` : ''}${g.idempotencyKey ? ` [${printable(g.idempotencyKey)}]` : ''}` +
        (g.payment ? `\n    paid ${receiptLine(g.payment)}` : ''),
    )
    .join('\n');
}

/** A Stripe purchase behind a grant: its price, session and receipt (shared/payments.ts). */
function receiptLine(p: GrantReceipt): string {
  const refunded = p.refundedCredits > 0 ? `, ${credits(p.refundedCredits)} cr refunded` : '';
  return `${p.price.toFixed(2)} ${printable(p.currency.toUpperCase())}, Stripe session ${printable(p.sessionId ?? '?')}${refunded}${p.receiptUrl ? `, receipt ${printable(p.receiptUrl)}` : ''}`;
}

export function formatUsage(rows: readonly (UsageRow | UsageGroup)[], groupBy: UsageGroupKey | undefined): string {
  if (rows.length === 0) return 'no usage recorded';
  if (groupBy) {
    return (rows as UsageGroup[])
      .map((g) => `${printable(g.key).padEnd(28)} ${String(g.requests).padStart(7)} req ${credits(g.cost).padStart(14)} cr  in ${g.inputTokens} out ${g.outputTokens}`)
      .join('\n');
  }
  return (rows as UsageRow[])
    .map(
      (r) =>
        `${r.ts} ${printable(r.client).padEnd(12)} ${printable(r.model).padEnd(22)} ${credits(r.cost).padStart(12)} cr (plan ${credits(r.planCost)}, credits ${credits(r.creditCost)})` +
        ` in ${r.inputTokens} out ${r.outputTokens}${r.estimated ? ` estimated:${printable(r.reason ?? '')}` : ''}`,
    )
    .join('\n');
}

/** One line per seat: name, plan, state and how much of each window is used. */
export function formatSeats(statuses: readonly Status[]): string {
  if (statuses.length === 0) return 'No seats.';
  return statuses
    .map((s) => {
      const windows = s.windows.filter((w) => w.limit > 0).map((w) => `${w.name} ${w.usedPercent}% used`).join(', ') || 'no allowance';
      return `${printable(s.seat ?? '')}  plan ${printable(s.plan)}  ${s.state}  ${windows}`;
    })
    .join('\n');
}
