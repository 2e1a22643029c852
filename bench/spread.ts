/**
 * A lab÷bare ratio as the report shows it: the median over the repeats (interleaved rounds within
 * a run, or runs) with its spread, or, where a measurement cannot give one, why not. A ratio is
 * never made of a figure below what its measurement resolves, nor over a denominator that is not
 * positive, nor of a negative figure: those are a reason, not a number.
 */
import { median } from './metrics.ts';

/** One figure of one measurement, with the reason it is too small to use, if it is. */
export interface Reading {
  value: number | null | undefined;
  tooSmall?: string | undefined;
}

/** One repeat's ratio, or why it has none. */
export type RatioValue = number | { why: string };

/** A ratio over the repeats: `value` the median, `min`–`max` its spread over `n` of `over`. */
export interface Spread {
  value: number;
  min: number;
  max: number;
  n: number;
  over: 'runs' | 'rounds';
}

export type RatioFigure = Spread | { value: null; why: string };

export function pairRatio(lab: Reading, bare: Reading): RatioValue {
  if (lab.tooSmall) return { why: `lab ${lab.tooSmall}` };
  if (bare.tooSmall) return { why: `bare ${bare.tooSmall}` };
  if (lab.value == null || bare.value == null || Number.isNaN(lab.value + bare.value)) {
    return { why: 'not measured on both' };
  }
  if (lab.value === 0 && bare.value === 0) return { why: 'both are 0' };
  if (bare.value < 0 || lab.value < 0) return { why: 'a figure is negative' };
  if (bare.value === 0) return { why: 'the bare figure is 0' };
  return lab.value / bare.value;
}

/**
 * The ratio over the runs, each run given as the ratios of its interleaved rounds (or its one
 * ratio): the median of each run's rounds is the run's ratio; over two runs or more the spread is
 * the runs', with one run it is its rounds'.
 */
export function spreadOf(runs: readonly (readonly RatioValue[])[]): RatioFigure {
  const numbers = (values: readonly RatioValue[]) =>
    values.filter((v): v is number => typeof v === 'number');
  const perRun = runs.map(numbers).filter((values) => values.length > 0);
  if (perRun.length === 0) {
    const reason = runs.flat().find((v): v is { why: string } => typeof v !== 'number');
    return { value: null, why: reason?.why ?? 'not measured' };
  }
  const values = perRun.length >= 2 ? perRun.map((v) => median(v)!) : perRun[0]!;
  return {
    value: median(values)!,
    min: Math.min(...values),
    max: Math.max(...values),
    n: values.length,
    over: perRun.length >= 2 || values.length === 1 ? 'runs' : 'rounds',
  };
}

/** `0.94× (0.91–0.97)`; `0.94× (1 run)` without repeats; `—` without a ratio. */
export function formatRatio(figure: RatioFigure | null | undefined): string {
  if (!figure || figure.value === null) return '—';
  const x = (n: number) => n.toFixed(2);
  if (figure.n === 1) return `${x(figure.value)}× (1 run)`;
  return `${x(figure.value)}× (${x(figure.min)}–${x(figure.max)})`;
}
