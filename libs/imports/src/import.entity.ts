import { DistributedBy, ReferenceTable } from '#libs/database';
import { Segment } from '#libs/segments';
import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { BadLine } from './import-file.js';

export type ImportMode = 'add' | 'remove' | 'replace';
export type ImportState = 'running' | 'done' | 'failed';
export type ImportPhase = 'apply' | 'prune';

/** A CSV import of a segment's members: its file's check, then its application chunk by chunk by the worker. */
@Entity('imports')
@ReferenceTable()
@Index('imports_unfinished_idx', ['createdAt'], { where: `((state)::text = 'running'::text)` })
@Check('imports_mode_kind', `mode IN ('add', 'remove', 'replace')`)
@Check('imports_phase_kind', `phase IN ('apply', 'prune')`)
@Check('imports_state_kind', `state IN ('running', 'done', 'failed')`)
export class Import {
  @PrimaryColumn({ type: 'uuid' })
  id: string;

  @Column({ name: 'segment_id', type: 'integer' })
  segmentId: number;

  /** No foreign key (see the migration ImportsWithoutSegmentKey). */
  @ManyToOne(() => Segment, { createForeignKeyConstraints: false })
  @JoinColumn({ name: 'segment_id' })
  segment?: Segment;

  @Column({ type: 'varchar', length: 7 })
  mode: ImportMode;

  /** One expiry instant for every add of the import, or none. */
  @Column({ name: 'expires_at', type: 'timestamptz', precision: 3, nullable: true })
  expiresAt: Date | null;

  @Column({ type: 'varchar', length: 10 })
  state: ImportState;

  /** `replace` applies the file's ids, then prunes the manual members it does not hold. */
  @Column({ type: 'varchar', length: 5, default: 'apply' })
  phase: ImportPhase;

  /** The last user id applied in the current phase. */
  @Column({ type: 'bigint', default: 0 })
  cursor: number;

  /** Lines of the file (a header included). */
  @Column({ type: 'bigint', default: 0 })
  lines: number;

  /** Distinct user ids of the file. */
  @Column({ type: 'bigint', default: 0 })
  total: number;

  /** Distinct user ids applied so far. */
  @Column({ type: 'bigint', default: 0 })
  processed: number;

  @Column({ type: 'bigint', default: 0 })
  added: number;

  @Column({ type: 'bigint', default: 0 })
  removed: number;

  /** The first bad lines of a rejected file, with their numbers. */
  @Column({ name: 'bad_lines', type: 'jsonb', nullable: true })
  badLines: BadLine[] | null;

  @Column({ type: 'varchar', length: 1000, nullable: true })
  error: string | null;

  @Column({ type: 'varchar', length: 128 })
  actor: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt: Date | null;
}

/** A user id of an import's file, staged (COPY) before the import is applied; `line` is its line in the file. */
@Entity('import_rows')
@DistributedBy('user_id', { colocateWith: 'users' })
export class ImportRow {
  @PrimaryColumn({ name: 'import_id', type: 'uuid' })
  importId: string;

  @PrimaryColumn({ name: 'user_id', type: 'bigint' })
  userId: number;

  @PrimaryColumn({ type: 'bigint' })
  line: number;
}
