/**
 * A minimal typed event, shaped like vscode.Event so the vscode-free team modules can be tested in
 * plain Node and their events handed to the editor as they are.
 */
export interface Disposable {
  dispose(): void;
}

export type Listener<T> = (value: T) => unknown;

export class Signal<T> {
  private readonly listeners = new Set<Listener<T>>();

  readonly event = (listener: Listener<T>): Disposable => {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  };

  fire(value: T): void {
    for (const listener of [...this.listeners]) listener(value);
  }

  dispose(): void {
    this.listeners.clear();
  }
}
