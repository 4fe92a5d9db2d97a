import { DistributedBy } from '#libs/database';
import { Check, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { MAX_USER_ID } from './user.js';

/** A user the service was told about, under the caller's own id (SPEC §2 rule 1). */
@Entity('users')
@DistributedBy('id')
@Check('users_id_range', `id >= 1 AND id <= ${MAX_USER_ID}`)
export class User {
  @PrimaryColumn({ type: 'bigint' })
  id: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
