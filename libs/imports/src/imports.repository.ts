import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { pgPool, queryRows } from '#libs/database';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DataSource, type EntityManager } from 'typeorm';
import type { BadLine } from './import-file.js';
import type { Import, ImportMode } from './imports.types.js';

const IMPORT_COLUMNS = `
  id, segment_id AS "segmentId", (SELECT slug FROM segments s WHERE s.id = segment_id) AS "segmentSlug", mode, expires_at AS "expiresAt", state, phase, cursor, lines, total, processed, added, removed,
  bad_lines AS "badLines", error, actor, created_at AS "createdAt", finished_at AS "finishedAt"`;

/** The expiry of an import's adds is one instant for all of them, from the database clock. */
const INSERT = `
  INSERT INTO imports (id, segment_id, mode, expires_at, state, lines, total, bad_lines, actor, finished_at)
  VALUES ($1, $2, $3, now() + $4::int * interval '1 second', $5, $6, $7, $8, $9, CASE WHEN $5::varchar <> 'running' THEN now() END)
  RETURNING ${IMPORT_COLUMNS}`;

const COUNT_STAGED = 'SELECT count(DISTINCT user_id) AS total FROM import_rows WHERE import_id = $1';

const FIND = `SELECT ${IMPORT_COLUMNS} FROM imports WHERE id = $1`;

/** Locked for one chunk: chunks of one import take turns. */
const LOCK_RUNNING = `SELECT ${IMPORT_COLUMNS} FROM imports WHERE id = $1 AND state = 'running' FOR UPDATE`;

const NEXT_STAGED = `
  SELECT DISTINCT user_id AS "userId" FROM import_rows WHERE import_id = $1 AND user_id > $2 ORDER BY user_id LIMIT $3`;

/** Manual members of the segment that the file does not hold (what `replace` removes). */
const NEXT_UNLISTED = `
  SELECT m.user_id AS "userId" FROM memberships m
  WHERE m.segment_id = $2 AND m.source = 'manual' AND m.user_id > $3
    AND NOT EXISTS (SELECT 1 FROM import_rows r WHERE r.import_id = $1 AND r.user_id = m.user_id)
  ORDER BY m.user_id LIMIT $4`;

const ADVANCE = `
  UPDATE imports SET phase = $2, cursor = $3, processed = processed + $4, added = added + $5, removed = removed + $6 WHERE id = $1`;

const FINISH = `UPDATE imports SET state = $2, error = $3, finished_at = now() WHERE id = $1 AND state = 'running'`;

const DELETE_STAGED = 'DELETE FROM import_rows WHERE import_id = $1';

const UNFINISHED = `SELECT id FROM imports WHERE state = 'running' ORDER BY created_at`;

const STATE_COUNTS = `SELECT state, count(*)::int AS count FROM imports GROUP BY state`;

/** Every statement on `imports` and `import_rows`. */
@Injectable()
export class ImportsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Streams `rows` (COPY text lines `import_id\tuser_id`) into the staging table inside a
   * transaction of its own connection; `commit` decides, once the stream has ended, whether the
   * rows stay (and returns the import row to insert with them) or are rolled back.
   */
  async stage<T>(rows: Readable, commit: (client: pg.PoolClient) => Promise<T | undefined>): Promise<T | undefined> {
    const client = await pgPool(this.dataSource).connect();
    let broken: unknown;
    try {
      await client.query('BEGIN');
      await pipeline(rows, client.query(copyFrom('COPY import_rows (import_id, user_id) FROM STDIN')));
      const result = await commit(client);
      await client.query(result === undefined ? 'ROLLBACK' : 'COMMIT');
      return result;
    } catch (error) {
      broken = error;
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      // A COPY cut short leaves the connection mid-protocol: discard it instead of reusing it.
      client.release(broken === undefined ? undefined : true);
    }
  }

  async countStaged(client: pg.PoolClient, id: string): Promise<number> {
    const { rows } = await client.query<{ total: string }>(COUNT_STAGED, [id]);
    return Number(rows[0]!.total);
  }

  async insert(
    executor: pg.PoolClient | null,
    row: {
      id: string;
      segmentId: number;
      mode: ImportMode;
      ttlSeconds?: number;
      state: Import['state'];
      lines: number;
      total: number;
      badLines: BadLine[] | null;
      actor: string;
    },
  ): Promise<Import> {
    const params = [
      row.id,
      row.segmentId,
      row.mode,
      row.ttlSeconds ?? null,
      row.state,
      row.lines,
      row.total,
      row.badLines === null ? null : JSON.stringify(row.badLines),
      row.actor,
    ];
    const [created] = executor
      ? (await executor.query<Import>(INSERT, params)).rows
      : await queryRows<Import>(this.dataSource.manager, INSERT, params);
    return created!;
  }

  async find(id: string): Promise<Import | null> {
    const [row] = await queryRows<Import>(this.dataSource.manager, FIND, [id]);
    return row ?? null;
  }

  async lockRunning(manager: EntityManager, id: string): Promise<Import | null> {
    const [row] = await queryRows<Import>(manager, LOCK_RUNNING, [id]);
    return row ?? null;
  }

  async nextStaged(manager: EntityManager, id: string, after: number, limit: number): Promise<number[]> {
    return (await queryRows<{ userId: number }>(manager, NEXT_STAGED, [id, after, limit])).map((row) => row.userId);
  }

  async nextUnlisted(manager: EntityManager, id: string, segmentId: number, after: number, limit: number): Promise<number[]> {
    return (await queryRows<{ userId: number }>(manager, NEXT_UNLISTED, [id, segmentId, after, limit])).map((row) => row.userId);
  }

  async advance(
    manager: EntityManager,
    id: string,
    progress: { phase: Import['phase']; cursor: number; processed: number; added: number; removed: number },
  ): Promise<void> {
    await queryRows(manager, ADVANCE, [id, progress.phase, progress.cursor, progress.processed, progress.added, progress.removed]);
  }

  /** Ends a running import (done or failed) and drops its staged ids. */
  async finish(manager: EntityManager, id: string, state: 'done' | 'failed', error: string | null = null): Promise<void> {
    await queryRows(manager, FINISH, [id, state, error?.slice(0, 1000) ?? null]);
    await queryRows(manager, DELETE_STAGED, [id]);
  }

  /** Marks a running import failed once its job used up its attempts; its staged ids are dropped. */
  async fail(id: string, error: string): Promise<void> {
    await this.dataSource.transaction((manager) => this.finish(manager, id, 'failed', error));
  }

  async unfinished(): Promise<string[]> {
    return (await queryRows<{ id: string }>(this.dataSource.manager, UNFINISHED)).map((row) => row.id);
  }

  async stateCounts(): Promise<{ state: string; count: number }[]> {
    return queryRows(this.dataSource.manager, STATE_COUNTS);
  }
}
