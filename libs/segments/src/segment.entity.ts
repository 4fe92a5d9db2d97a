import { Column, CreateDateColumn, DeleteDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

const numericToNumber = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};

@Entity({ name: 'segments' })
export class SegmentEntity {
  @PrimaryGeneratedColumn('identity', { generatedIdentity: 'ALWAYS' })
  id: number;

  /** Case-sensitive, ordered bytewise (COLLATE "C"); unique among active segments only. */
  @Column({ type: 'varchar', length: 128, collation: 'C' })
  slug: string;

  @Column({ type: 'varchar', length: 1000, nullable: true })
  description: string | null;

  /** Share of registered users (0–100, two decimals) given the segment automatically; null for manual-only segments. */
  @Column({ name: 'auto_percent', type: 'numeric', precision: 5, scale: 2, nullable: true, transformer: numericToNumber })
  autoPercent: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @DeleteDateColumn({ name: 'deleted_at', type: 'timestamptz' })
  deletedAt: Date | null;
}
