/**
 * `npm run lab` lists the labs, one line each (the title of each lab's README);
 * `npm run lab -- <name> [flags]` runs one: `03-ws`, or just `03` or `ws`. Every lab folder has a
 * `server.ts` whose `main(flags)` starts it and prints the URL to open. An unknown lab or flag
 * exits with status 2.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { argv, exit } from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UsageError } from '../flags.ts';

const LABS = fileURLToPath(new URL('./', import.meta.url));

interface Lab {
  name: string;
  title: string;
}

interface RunningLab {
  close(): Promise<void>;
}

/** The lab folders (`NN-name`), in the book's order, with their README's first heading. */
async function listLabs(): Promise<Lab[]> {
  const names = (await readdir(LABS)).filter((name) => /^\d\d-/.test(name)).sort();
  return Promise.all(
    names.map(async (name) => {
      const readme = await readFile(join(LABS, name, 'README.md'), 'utf8').catch(() => '');
      const heading = /^# (.+)$/m.exec(readme)?.[1] ?? name;
      return { name, title: heading.replace(/^Lab \d\d: /, '') };
    }),
  );
}

function listing(labs: Lab[]): string {
  const width = Math.max(...labs.map((lab) => lab.name.length));
  return labs.map((lab) => `  ${lab.name.padEnd(width)}  ${lab.title}`).join('\n');
}

/** `03-ws`, `03` or `ws`. */
function find(labs: Lab[], wanted: string): Lab | undefined {
  return labs.find(
    (lab) => lab.name === wanted || lab.name.slice(0, 2) === wanted || lab.name.slice(3) === wanted,
  );
}

async function main(): Promise<void> {
  const [wanted, ...flags] = argv.slice(2);
  const labs = await listLabs();
  if (wanted === undefined || wanted.startsWith('-')) {
    console.info(
      `The labs, in the book's order (npm run lab -- <name> [flags]):\n${listing(labs)}`,
    );
    return;
  }
  const lab = find(labs, wanted);
  if (!lab) {
    console.error(`There is no lab "${wanted}". The labs are:\n${listing(labs)}`);
    exit(2);
  }
  const entry = (await import(pathToFileURL(join(LABS, lab.name, 'server.ts')).href)) as {
    main(flags: string[]): Promise<RunningLab>;
  };
  // A signal during the start (a lab prints its URL before all of it is up: lab 12's nginx) stops
  // it once it is up, rather than killing it with its children half started.
  const starting = entry.main(flags);
  const stop = () => {
    setTimeout(() => {
      console.error(`${lab.name} did not stop within 5 s`);
      exit(1);
    }, 5000).unref();
    starting
      .then((running) => running.close())
      .then(
        () => exit(0),
        (error: unknown) => {
          console.error(error);
          exit(1);
        },
      );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await starting;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${lab.name}: ${(error as Error).message.split('\n')[0]}`);
      exit(2);
    }
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      console.error(`${lab.name}: the port is in use: try --port <another>`);
      exit(1);
    }
    throw error;
  }
}

await main();
