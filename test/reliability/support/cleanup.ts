// Teardown in reverse order of set-up, every step attempted even when an earlier one fails, so a test
// that fails half-way still stops every process and closes every listener it started.
export class Cleanup {
  private readonly steps: Array<() => unknown> = [];

  /** Registers a teardown step; returns `value` so set-up reads `const x = cleanup.add(await f(), ...)`. */
  add<T>(value: T, step: (value: T) => unknown): T {
    this.steps.push(() => step(value));
    return value;
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, `${errors.length} cleanup step(s) failed`);
  }
}
