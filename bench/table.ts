/** One line of the bench table. */
export interface Row {
  path: string;
  figure: string;
  baseline: string;
  ratio: string;
  target: string;
  pass: boolean | null;
}

export function printTable(rows: Row[]): string {
  const header = ['path', 'figure', 'baseline', 'ratio', 'target', 'pass'];
  const cells = rows.map((row) => [
    row.path,
    row.figure,
    row.baseline,
    row.ratio,
    row.target,
    row.pass === null ? 'n/a' : row.pass ? 'PASS' : 'FAIL',
  ]);
  const lines = [header, header.map(() => '---'), ...cells].map((cols) => `| ${cols.join(' | ')} |`);
  return lines.join('\n');
}

export const fixed = (value: number, digits = 2) => value.toFixed(digits);
export const thousands = (value: number) => Math.round(value).toLocaleString('en-US');
