import { CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'users' })
export class UserEntity {
  /** The caller's own id (1 … 2^53−1); never invented by the service for a user it was told about. */
  @PrimaryColumn({ type: 'bigint' })
  id: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

/** Largest user id: ids travel as JSON numbers, which are exact up to 2^53 − 1. */
export const MAX_USER_ID = Number.MAX_SAFE_INTEGER;
