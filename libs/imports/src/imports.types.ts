import type { BadLine } from './import-file.js';

export type ImportMode = 'add' | 'remove' | 'replace';
export type ImportState = 'running' | 'done' | 'failed';

export interface Import {
  id: string;
  segmentId: number;
  /** The slug the segment has (or had, once deleted). */
  segmentSlug: string;
  mode: ImportMode;
  expiresAt: Date | null;
  state: ImportState;
  phase: 'apply' | 'prune';
  cursor: number;
  /** Lines of the file (a header included). */
  lines: number;
  /** Distinct user ids of the file. */
  total: number;
  /** Distinct user ids applied so far. */
  processed: number;
  added: number;
  removed: number;
  badLines: BadLine[] | null;
  error: string | null;
  actor: string;
  createdAt: Date;
  finishedAt: Date | null;
}
