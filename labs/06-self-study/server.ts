/**
 * Lab 06 (스스로 해보기): the book's five exercises, built into the app on every transport at once:
 * member count and list, system messages saved, whispers, owner hand-over, kick. The README says
 * where each lives and how each transport carries it.
 */
import { startLabApp } from '../shared/app.ts';

export function main(args: string[], log: (line: string) => void = console.info) {
  return startLabApp(args, { name: '06-self-study', transport: 'all', store: 'memory' }, log);
}
