import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { oneConnectionPerNode, pgPool, queryRows } from '#libs/database';
import { liveMembership } from '#libs/memberships';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DataSource, EntityManager, Repository } from 'typeorm';
import type { BadLine } from './import-file.js';
import { Import, ImportRow, type ImportMode, type ImportPhase } from './import.entity.js';

/**
 * The import row, running, written on the staging connection (a pg client of its own, outside
 * TypeORM: COPY streams) in the transaction that staged its ids. The expiry of an import's adds
 * is one instant for all of them, from the database clock.
 */
const INSERT = `
  INSERT INTO imports (id, segment_id, mode, expires_at, state, lines, total, bad_lines, actor)
  VALUES ($1, $2, $3, now() + $4::int * interval '1 second', 'running', $5, $6, $7, $8)`;

const COUNT_STAGED = 'SELECT count(DISTINCT user_id) AS total FROM import_rows WHERE import_id = $1';

const NEXT_STAGED = `
  SELECT DISTINCT user_id AS "userId" FROM import_rows WHERE import_id = $1 AND user_id > $2 ORDER BY user_id LIMIT $3`;

/** Live manual members of the segment that the file does not hold (what `replace` removes). */
const NEXT_UNLISTED = `
  SELECT m.user_id AS "userId" FROM memberships m
  WHERE m.segment_id = $2 AND m.source = 'manual' AND m.user_id > $3 AND ${liveMembership('m')}
    AND NOT EXISTS (SELECT 1 FROM import_rows r WHERE r.import_id = $1 AND r.user_id = m.user_id)
  ORDER BY m.user_id LIMIT $4`;

/**
 * Every statement on `imports` and `import_rows`. The import's state goes through the entity;
 * staging (COPY) and the chunk queries over staged ids and memberships are hand-written.
 */
@Injectable()
export class ImportsRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectRepository(Import) private readonly imports: Repository<Import>,
  ) {}

  /**
   * Streams `rows` (COPY text lines `import_id\tuser_id\tline`) into the staging table inside a
   * transaction of its own connection; `commit` decides, once the stream has ended, whether the
   * rows stay (and returns the import row to insert with them) or are rolled back.
   */
  async stage<T>(rows: Readable, commit: (client: pg.PoolClient) => Promise<T | undefined>): Promise<T | undefined> {
    const client = await pgPool(this.dataSource).connect();
    let broken: unknown;
    try {
      await client.query('BEGIN');
      await pipeline(rows, client.query(copyFrom('COPY import_rows (import_id, user_id, line) FROM STDIN')));
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

  /** Writes a running import's row, in the transaction of its staged ids (the staging connection) or of `executor`. */
  async insert(
    executor: pg.PoolClient | EntityManager,
    row: {
      id: string;
      segmentId: number;
      mode: ImportMode;
      ttlSeconds?: number;
      lines: number;
      total: number;
      badLines: BadLine[] | null;
      actor: string;
    },
  ): Promise<void> {
    const params = [
      row.id,
      row.segmentId,
      row.mode,
      row.ttlSeconds ?? null,
      row.lines,
      row.total,
      row.badLines === null ? null : JSON.stringify(row.badLines),
      row.actor,
    ];
    if (executor instanceof EntityManager) await queryRows(executor, INSERT, params);
    else await executor.query(INSERT, params);
  }

  /** The import with its segment (even a deleted one: the slug it had). */
  find(id: string): Promise<Import | null> {
    return this.imports.findOne({ where: { id }, relations: { segment: true }, withDeleted: true });
  }

  /** The running import, locked for one chunk (its transaction's first statement): chunks of one import take turns. */
  async lockRunning(manager: EntityManager, id: string): Promise<Import | null> {
    // A chunk records its progress in the (reference) imports table after statements over every shard.
    await oneConnectionPerNode(manager);
    return manager.getRepository(Import).findOne({ where: { id, state: 'running' }, lock: { mode: 'pessimistic_write' } });
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
    progress: { phase: ImportPhase; cursor: number; processed: number; added: number; removed: number },
  ): Promise<void> {
    await manager
      .getRepository(Import)
      .createQueryBuilder()
      .update()
      .set({
        phase: progress.phase,
        cursor: progress.cursor,
        processed: () => 'processed + :processed',
        added: () => 'added + :added',
        removed: () => 'removed + :removed',
      })
      .where('id = :id', { id, processed: progress.processed, added: progress.added, removed: progress.removed })
      .execute();
  }

  /** Ends a running import (done or failed) and drops its staged ids. */
  async finish(manager: EntityManager, id: string, state: 'done' | 'failed', error: string | null = null): Promise<void> {
    await manager
      .getRepository(Import)
      .update({ id, state: 'running' }, { state, error: error?.slice(0, 1000) ?? null, finishedAt: () => 'now()' });
    await manager.getRepository(ImportRow).delete({ importId: id });
  }

  /** Marks a running import failed once its job used up its attempts; its staged ids are dropped. */
  async fail(id: string, error: string): Promise<void> {
    await this.dataSource.transaction((manager) => this.finish(manager, id, 'failed', error));
  }

  async unfinished(): Promise<string[]> {
    const running = await this.imports.find({ select: { id: true }, where: { state: 'running' }, order: { createdAt: 'ASC' } });
    return running.map((row) => row.id);
  }

  async stateCounts(): Promise<{ state: string; count: number }[]> {
    return this.imports
      .createQueryBuilder('i')
      .select('i.state', 'state')
      .addSelect('count(*)::int', 'count')
      .groupBy('i.state')
      .getRawMany();
  }
}
