import { UsageError } from '../../common/errors.js';

/** One thing wrong with a description, and where. */
export interface Problem {
  /**
   * Where it is: an XML path such as `/image/preferences[2]/type[1]` (prefixed with
   * `file.xml:` for elements that came from an `<include>`), or the command-line
   * option (`--profile`) for problems of the build arguments.
   */
  where: string;
  /** What is wrong, one sentence without the location. */
  message: string;
}

/**
 * Every problem of one description, reported together (one line each), so a user
 * fixes them in one round instead of one per build attempt. Exit code 2.
 */
export class DescriptionError extends UsageError {
  readonly file: string;
  readonly problems: readonly Problem[];

  constructor(file: string, problems: readonly Problem[]) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super(`description ${file} has ${count}:\n${problems.map(formatProblem).join('\n')}`, {
      hint: 'fix the listed elements (paths are XPath-like: /image/preferences[2] is the second <preferences>)',
    });
    this.file = file;
    this.problems = problems;
  }
}

/** "  /image/preferences[1]/type[1]: unknown attribute "foo" on <type>" */
export function formatProblem(problem: Problem): string {
  return `  ${problem.where}: ${problem.message}`;
}

/** Throws a DescriptionError when there is anything to report. */
export function throwIfProblems(file: string, problems: readonly Problem[]): void {
  if (problems.length > 0) throw new DescriptionError(file, problems);
}
