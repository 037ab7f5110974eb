// Samples as they are measured: per figure and implementation, one value per round (or several,
// for figures sampled more than once per round), plus the notes a figure wants the reader to see.
import type { ImplementationName } from './proxies.js';
import { spreadOf, type Spread } from './stats.js';

export class Results {
  private readonly samples = new Map<string, number[]>();
  private readonly observations = new Map<string, number[]>();
  readonly notes: string[] = [];

  /** A side observation (not a figure), summarised into a note at the end of the run. */
  observe(key: string, value: number): void {
    const list = this.observations.get(key) ?? [];
    list.push(value);
    this.observations.set(key, list);
  }

  observed(key: string): readonly number[] {
    return this.observations.get(key) ?? [];
  }

  record(figureId: string, implementation: ImplementationName, value: number): void {
    if (!Number.isFinite(value)) throw new Error(`${figureId} (${implementation}): not a finite value: ${value}`);
    const key = `${figureId}|${implementation}`;
    const list = this.samples.get(key) ?? [];
    list.push(value);
    this.samples.set(key, list);
  }

  spread(figureId: string, implementation: ImplementationName): Spread | undefined {
    const list = this.samples.get(`${figureId}|${implementation}`);
    return list === undefined || list.length === 0 ? undefined : spreadOf(list);
  }
}
