import { afterAll, beforeAll } from 'vitest';

/** What a lab's `main` returns: the labs' own fields (url, origin...) and a way to stop it. */
interface Running {
  close(): Promise<void>;
}

/**
 * For a lab's test: starts the lab with `args` before the tests of the file (or of the describe
 * block) this is called in, and stops it after them. `log` holds the lines it printed.
 */
export function startedLab<Lab extends Running>(
  main: (args: string[], log: (line: string) => void) => Promise<Lab>,
  args: string[],
): { readonly lab: Lab; readonly log: string[] } {
  const log: string[] = [];
  let lab: Lab | undefined;
  beforeAll(async () => {
    lab = await main(args, (line) => log.push(line));
  });
  afterAll(() => lab?.close());
  return {
    get lab() {
      if (!lab) throw new Error('the lab starts in beforeAll: read it inside a test');
      return lab;
    },
    log,
  };
}
