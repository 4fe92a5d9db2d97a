import { ReferenceTable } from '#libs/database';
import { Check, Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, Unique } from 'typeorm';
import type { Scope } from './scopes.js';

/** An API token: its secret is stored only as a hash (SHA-256), shown once when created. */
@Entity('api_tokens')
@ReferenceTable()
@Unique('api_tokens_secret_hash_key', ['secretHash'])
@Check('api_tokens_scopes_kind', `scopes <@ ARRAY['read', 'write', 'admin']::varchar(5)[] AND cardinality(scopes) > 0`)
export class ApiToken {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** Who acts with it: recorded as the actor of every change it makes. */
  @Column({ type: 'varchar', length: 128 })
  name: string;

  @Column({ type: 'varchar', length: 5, array: true })
  scopes: Scope[];

  /** Never read unless asked for (select: false): only the token check needs it. */
  @Column({ name: 'secret_hash', type: 'bytea', select: false })
  secretHash?: Buffer;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null;
}
