/**
 * Undo steps pushed as resources are made, run in reverse order on every way out.
 * Every step runs even when an earlier one fails; their errors are returned together.
 * (Node 20 has no AsyncDisposableStack; this is the part of it kiwi needs.)
 */
export class CleanupStack {
  private readonly steps: { name: string; run: () => Promise<unknown> | unknown }[] = [];

  push(name: string, run: () => Promise<unknown> | unknown): void {
    this.steps.push({ name, run });
  }

  async unwind(): Promise<string[]> {
    const problems: string[] = [];
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      try {
        await step.run();
      } catch (error) {
        problems.push(`${step.name}: ${(error as Error).message}`);
      }
    }
    return problems;
  }
}
