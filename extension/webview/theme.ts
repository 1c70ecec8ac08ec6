/// <reference lib="dom" />
/**
 * The theme's colours for the charts, read from the CSS variables VS Code sets on the webview's body
 * (they change with the colour theme; read them again on a theme switch).
 */
import type { GaugeLevel } from '../presentation/usageGauges';

export interface Theme {
  foreground: string;
  muted: string;
  grid: string;
  track: string;
  balance: string;
  ok: string;
  warning: string;
  error: string;
  /** The theme's six chart colours, for the usage keys in order (usageChart keeps at most six plus Other). */
  palette: string[];
  fontFamily: string;
  fontSize: number;
}

export function readTheme(): Theme {
  const style = getComputedStyle(document.body);
  const css = (name: string, fallback: string): string => style.getPropertyValue(name).trim() || fallback;
  const foreground = css('--vscode-foreground', '#888');
  const palette = ['blue', 'orange', 'green', 'purple', 'yellow', 'red'].map((colour) => css(`--vscode-charts-${colour}`, foreground));
  return {
    foreground,
    muted: css('--vscode-descriptionForeground', foreground),
    grid: css('--vscode-charts-lines', 'rgba(128, 128, 128, 0.3)'),
    track: css('--vscode-editorWidget-border', css('--vscode-charts-lines', 'rgba(128, 128, 128, 0.3)')),
    balance: css('--vscode-charts-green', foreground),
    ok: css('--vscode-charts-blue', foreground),
    warning: css('--vscode-charts-yellow', foreground),
    error: css('--vscode-charts-red', foreground),
    palette,
    fontFamily: css('--vscode-font-family', 'sans-serif'),
    fontSize: Number.parseFloat(css('--vscode-font-size', '13')) || 13,
  };
}

export function levelColour(theme: Theme, level: GaugeLevel): string {
  switch (level) {
    case 'ok':
      return theme.ok;
    case 'warning':
      return theme.warning;
    case 'exhausted':
      return theme.error;
    case 'none':
      return theme.track;
  }
}
