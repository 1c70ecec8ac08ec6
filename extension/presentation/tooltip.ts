/**
 * The status bar tooltip as Markdown: both windows (used %, reset in local time and as a countdown),
 * the balance and holds, the burn rate with the 5h run-out projection, and the last request's cost.
 * Pure: `now` and the time zone are arguments.
 */
import type { GatewayInfo } from '../../shared/rpc';
import type { Status, WindowStatus } from '../../shared/protocol';
import type { TimeFormatOptions } from '../../shared/format';
import { formatCr, formatCredits, formatDuration, formatLocalTime, formatPercent } from '../../shared/format';

const STATE_LABEL: Record<Status['state'], string> = {
  plan: 'on plan allowance',
  credits: 'on credits',
  blocked: 'blocked — add credits or wait for a reset',
};

export interface TooltipContext extends TimeFormatOptions {
  now: number;
  info?: GatewayInfo | null;
  /** The team gateway's URL when attached to one. */
  server?: string | null;
}

/** A time in local time plus its countdown: "14:30 (in 2 h 05 min)". */
function when(at: number, ctx: TooltipContext): string {
  return `${formatLocalTime(at, ctx.now, ctx)} (in ${formatDuration(at - ctx.now)})`;
}

function windowRow(window: WindowStatus, ctx: TooltipContext): string {
  if (window.limit <= 0) return `| ${window.name} | no allowance on this plan | — |`;
  const used = `${formatPercent(window.usedPercent)} (${formatCredits(window.used)} / ${formatCr(window.limit)})`;
  const held = window.held > 0 ? `, ${formatCr(window.held)} held` : '';
  const resets = window.resetsAt === null ? 'not started' : when(Date.parse(window.resetsAt), ctx);
  return `| ${window.name} | ${used}${held} | ${resets} |`;
}

/**
 * When the 5h window's allowance runs out at the current pace, or why it will not: no recent use,
 * or it resets first.
 */
export function runOutProjection(status: Status, now: number): { kind: 'idle' | 'lasts' | 'exhausted' } | { kind: 'at'; at: number } {
  const window = status.windows.find((w) => w.name === '5h');
  if (!window || window.limit <= 0) return { kind: 'idle' };
  const left = window.remaining - window.held;
  if (left <= 0) return { kind: 'exhausted' };
  if (status.burnRatePerHour <= 0) return { kind: 'idle' };
  const at = now + (left / status.burnRatePerHour) * 3_600_000;
  const resetsAt = window.resetsAt === null ? null : Date.parse(window.resetsAt);
  return resetsAt !== null && at >= resetsAt ? { kind: 'lasts' } : { kind: 'at', at };
}

function burnLine(status: Status, ctx: TooltipContext): string {
  const rate = `Burn rate: ${formatCr(status.burnRatePerHour)}/h over the last hour`;
  const projection = runOutProjection(status, ctx.now);
  switch (projection.kind) {
    case 'idle':
      return rate;
    case 'exhausted':
      return `${rate} — the 5h allowance is used up`;
    case 'lasts':
      return `${rate} — the 5h allowance lasts until its reset at this pace`;
    case 'at':
      return `${rate} — the 5h allowance runs out at ${when(projection.at, ctx)} at this pace`;
  }
}

/** Escapes text from the ledger (model and client names) for Markdown. */
function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}

/** A team status's first lines: whose windows these are, whose credits, and what this token may do. */
function teamLines(status: Status, ctx: TooltipContext): string[] {
  if (status.seat === undefined) return [];
  const role = status.role === 'admin' ? 'admin' : 'member';
  const where = ctx.server ? ` on ${escapeMarkdown(ctx.server)}` : '';
  return ['', `Seat **${escapeMarkdown(status.seat)}** (${role})${where}: the windows are this seat's, the credits are the team pool's.`];
}

export function tooltipMarkdown(status: Status, ctx: TooltipContext): string {
  const pool = status.seat !== undefined;
  const lines = [
    `**Creditgate** — plan \`${status.plan.replace(/`/g, '')}\`, ${status.state === 'blocked' && status.role === 'member' ? 'blocked — ask a team admin for credits or wait for a reset' : STATE_LABEL[status.state]}`,
    ...teamLines(status, ctx),
    '',
    '| Window | Used | Resets |',
    '| --- | --- | --- |',
    ...status.windows.map((window) => windowRow(window, ctx)),
    '',
    `${pool ? 'Team pool' : 'Balance'}: **${formatCr(status.credits.balance)}** · held ${formatCr(status.credits.held)} · available ${formatCr(status.credits.available)}`,
    '',
    `Auto-use of credits: ${status.autoUseCredits ? 'on' : 'off'}`,
    '',
    burnLine(status, ctx),
    '',
  ];
  // The stored plan is not defined: say why every window shows no allowance.
  if (status.planWarning) lines.splice(1, 0, '', `Warning: ${escapeMarkdown(status.planWarning)}`);
  const last = status.lastCharge;
  lines.push(
    last
      ? `Last request: ${formatCr(last.cost)} — ${escapeMarkdown(last.model)} via ${escapeMarkdown(last.client)}, ${formatLocalTime(Date.parse(last.ts), ctx.now, ctx)}`
      : 'Last request: none yet',
  );
  if (ctx.info) {
    const role = ctx.info.role === 'owner' ? 'served by this window' : `shared with pid ${ctx.info.ownerPid ?? '?'}`;
    lines.push('', `Gateway: ${ctx.info.url} (${role})`);
  } else if (ctx.server && !pool) {
    lines.push('', `Gateway: ${escapeMarkdown(ctx.server)} (team gateway, ${status.role === 'admin' ? 'admin' : 'member'} token)`);
  }
  lines.push('', 'Click to view usage.');
  return lines.join('\n');
}
