import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DATABASE_CONNECT_TIMEOUT_MS, oneConnectionPerNode, pgPool, queryRows } from '#libs/database';
import pg from 'pg';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream';
import { to as copyTo } from 'pg-copy-streams';
import { DataSource, type EntityManager } from 'typeorm';
import type { FeedEntry, FeedPosition, HistoryEntry, MembershipChange, MonthReportQuery, ReportFormat } from './history.types.js';

/** Changes per history INSERT statement. */
const INSERT_SLICE = 10_000;

/**
 * A transaction's changes, set-based, read through their users (`u.id = ANY`): on a Citus
 * cluster the statement then runs on their shards, not through the coordinator. Entries get
 * their ids in the order they were recorded. Instants are values (see insert): a function here
 * would run on the shards' nodes, whose clocks are not the one that orders history.
 */
const INSERT = `
  INSERT INTO membership_history (user_id, segment_id, segment_slug, operation, reason, actor, occurred_at)
  SELECT c.user_id, c.segment_id, c.slug, c.operation, c.reason, c.actor, c.occurred_at
  FROM users u JOIN unnest($1::bigint[], $2::int[], $3::varchar[], $4::varchar[], $5::varchar[], $6::varchar[], $7::timestamptz[])
    WITH ORDINALITY AS c (user_id, segment_id, slug, operation, reason, actor, occurred_at, position)
    ON c.user_id = u.id AND u.id = ANY($1::bigint[])
  ORDER BY c.position`;

/**
 * The columns of an entry (see toEntry). The instant comes as epoch milliseconds (exact:
 * timestamptz(3)): node-pg parses timestamp text with a regular expression per row, a tenth
 * of the time of a change-feed page.
 */
const ENTRY_COLUMNS = `id, user_id AS "userId", segment_slug AS slug, operation, reason, actor,
  (extract(epoch FROM occurred_at) * 1000)::int8 AS "occurredAtMs"`;

type EntryRow = Omit<HistoryEntry, 'occurredAt'> & { occurredAtMs: number };

const toEntry = (row: EntryRow): HistoryEntry => ({
  id: row.id,
  userId: row.userId,
  slug: row.slug,
  operation: row.operation,
  reason: row.reason,
  actor: row.actor,
  occurredAt: new Date(row.occurredAtMs),
});

const USER_HISTORY = `
  SELECT ${ENTRY_COLUMNS}
  FROM membership_history
  WHERE user_id = $1
    AND ($2::timestamptz IS NULL OR occurred_at >= $2)
    AND ($3::timestamptz IS NULL OR occurred_at < $3)
    AND ($4::timestamptz IS NULL OR (occurred_at, id) < ($4, $5::bigint))
  ORDER BY occurred_at DESC, id DESC
  LIMIT $6`;

/** Columns of each report format; every value is computed by PostgreSQL, so Node only forwards bytes. */
const REPORT_COLUMNS: Record<ReportFormat, string> = {
  csv: `user_id, segment_slug AS segment, operation,
        to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS occurred_at, actor`,
  legacy: `user_id, segment_slug, CASE operation WHEN 'add' THEN 'I' ELSE 'D' END AS operation,
           to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS executed_at`,
};
const REPORT_OPTIONS: Record<ReportFormat, string> = { csv: `FORMAT csv, HEADER, DELIMITER ';'`, legacy: 'FORMAT csv, HEADER' };

const NOW = 'SELECT clock_timestamp() AS now';

/** Published entries after a position, in feed order: relay batch, then id. */
const FEED = `
  SELECT ${ENTRY_COLUMNS}, feed_batch AS batch
  FROM membership_history
  WHERE feed_batch <= $3 AND (feed_batch, id) > ($1, $2)
  ORDER BY feed_batch, id LIMIT $4`;

/** The relay's state, locked for one pass; no row when another relay is in the middle of one. */
const LOCK_RELAY = `
  SELECT stamped_batch AS "stampedBatch", stamped_count AS "stampedCount", published_batch AS "publishedBatch"
  FROM change_feed_relay FOR UPDATE SKIP LOCKED`;

/** The id of the `$1`-th oldest entry no batch holds yet: a pass stamps up to it (none: everything). */
const UNRELAYED_CAP = `SELECT id FROM membership_history WHERE feed_batch IS NULL ORDER BY id OFFSET $1 LIMIT 1`;

/**
 * Stamps the committed entries no batch holds yet (up to an id) with a new batch. An entry that
 * commits after this statement started is left for the next pass: batches follow visibility.
 */
const STAMP = `
  UPDATE membership_history SET feed_batch = $1
  WHERE feed_batch IS NULL AND ($2::bigint IS NULL OR id <= $2)`;

const RECORD_STAMPED = 'UPDATE change_feed_relay SET stamped_batch = $1, stamped_count = $2';

const COUNT_BATCH = 'SELECT count(*) AS count FROM membership_history WHERE feed_batch = $1';

const PUBLISH = 'UPDATE change_feed_relay SET published_batch = stamped_batch';

const PUBLISHED = 'SELECT published_batch AS batch FROM change_feed_relay';

/** Wakes the feed's streams in every process: sent by the relay after it publishes, never by a writer. */
const NOTIFY_PUBLISHED = 'NOTIFY change_feed';
const LISTEN_PUBLISHED = 'LISTEN change_feed';

const FEED_HORIZON = `SELECT horizon_batch AS batch, horizon_id AS id FROM change_feed_relay WHERE horizon_id IS NOT NULL`;

/** What retention dropped from the feed: the last position of a dropped partition, if later than the horizon so far. */
const RAISE_FEED_HORIZON = (partition: string) => `
  UPDATE change_feed_relay SET horizon_batch = last.feed_batch, horizon_id = last.id
  FROM (SELECT feed_batch, id FROM ${partition} WHERE feed_batch IS NOT NULL ORDER BY feed_batch DESC, id DESC LIMIT 1) AS last
  WHERE horizon_id IS NULL OR (horizon_batch, horizon_id) < (last.feed_batch, last.id)`;

/** The relay's state at the start of a pass. */
export interface RelayState {
  stampedBatch: number;
  stampedCount: number;
  publishedBatch: number;
}

const PARTITION_LOCK = 'SELECT pg_advisory_xact_lock(7180245002)';
/** The same lock, shared: the relay's passes hold it, so partitions are not attached or detached under their updates (they deadlocked). */
const PARTITION_LOCK_SHARED = 'SELECT pg_advisory_xact_lock_shared(7180245002)';
const PARTITION_EXISTS = 'SELECT to_regclass($1) IS NOT NULL AS exists';
const MONTHLY_PARTITIONS = `
  SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
  WHERE i.inhparent = 'membership_history'::regclass AND c.relname ~ '^membership_history_y[0-9]{4}m[0-9]{2}$'`;
const PARTITION_NAME = /^membership_history_y\d{4}m\d{2}$/;

/**
 * Every statement on the `membership_history` table and its partitions, hand-written: history
 * is written set-based at every commit, read by the feed and reports at hundreds of thousands
 * of rows a second (COPY), and maintained with partition DDL the entity does not describe.
 */
@Injectable()
export class HistoryRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Writes a transaction's changes (no batch yet: the change feed's relay stamps them once they
   * are committed), a statement per INSERT_SLICE of them: building one statement's arrays for a
   * 100 000-change campaign held the event loop for other requests.
   */
  async insert(manager: EntityManager, changes: readonly MembershipChange[]): Promise<void> {
    // A change without an instant took effect now: the database clock, read once for all of them.
    const now = changes.some((change) => change.occurredAt === undefined) ? await this.clock(manager) : undefined;
    for (let start = 0; start < changes.length; start += INSERT_SLICE) {
      const slice = changes.slice(start, start + INSERT_SLICE);
      await queryRows(manager, INSERT, [
        slice.map((change) => change.userId),
        slice.map((change) => change.segmentId),
        slice.map((change) => change.slug),
        slice.map((change) => change.operation),
        slice.map((change) => change.reason),
        slice.map((change) => change.actor),
        slice.map((change) => change.occurredAt ?? now),
      ]);
    }
  }

  /** The database clock, which stamps history: instants that order or filter history come from it, never from a process. */
  now(): Promise<Date> {
    return this.clock(this.dataSource.manager);
  }

  private async clock(manager: EntityManager): Promise<Date> {
    const [row] = await queryRows<{ now: Date }>(manager, NOW);
    return row!.now;
  }

  /** One user's entries in [from, to) strictly before `before` in (occurred_at, id) order, newest first. */
  async userHistory(userId: number, query: { from?: Date; to?: Date; before?: [Date, number]; limit: number }): Promise<HistoryEntry[]> {
    const rows = await queryRows<EntryRow>(this.dataSource.manager, USER_HISTORY, [
      userId,
      query.from ?? null,
      query.to ?? null,
      query.before?.[0] ?? null,
      query.before?.[1] ?? null,
      query.limit,
    ]);
    return rows.map(toEntry);
  }

  /**
   * Streams a month's entries as CSV straight from PostgreSQL (COPY): memory stays flat
   * whatever the size, the bytes flow to the client with back-pressure, and the connection
   * goes back to the pool when the stream ends (or is destroyed, when the client goes away).
   */
  async copyMonth(query: MonthReportQuery): Promise<Readable> {
    // COPY takes no bind parameters: every value below is an integer or an instant built here.
    const sql = `COPY (
        SELECT ${REPORT_COLUMNS[query.format]}
        FROM membership_history
        WHERE occurred_at >= '${query.from.toISOString()}' AND occurred_at < '${query.to.toISOString()}'
          AND recorded_at <= '${query.writtenBy.toISOString()}'
          ${query.userId === undefined ? '' : `AND user_id = ${Math.trunc(query.userId)}`}
        ORDER BY occurred_at, id
      ) TO STDOUT WITH (${REPORT_OPTIONS[query.format]})`;
    const client = await pgPool(this.dataSource).connect();
    const stream = client.query(copyTo(sql));
    finished(stream, (error) => {
      // A COPY cut short leaves the connection mid-protocol: discard it instead of reusing it.
      client.release(error ?? (stream.readableEnded ? undefined : true));
    });
    return stream;
  }

  /** Serialises partition maintenance between processes for the rest of the transaction. */
  async lockPartitions(manager: EntityManager): Promise<void> {
    await queryRows(manager, PARTITION_LOCK);
  }

  /** Keeps partition maintenance out for the rest of the transaction (relay passes share this; nothing else takes it). */
  async holdPartitions(manager: EntityManager): Promise<void> {
    await queryRows(manager, PARTITION_LOCK_SHARED);
  }

  async partitionExists(manager: EntityManager, name: string): Promise<boolean> {
    const [row] = await queryRows<{ exists: boolean }>(manager, PARTITION_EXISTS, [checkedName(name)]);
    return row!.exists;
  }

  /**
   * Creates the partition for [from, to); rows that landed in the default partition for that
   * range meanwhile move into it, so creating a partition never fails.
   */
  async createPartition(manager: EntityManager, name: string, from: Date, to: Date): Promise<void> {
    const table = checkedName(name);
    const [start, end] = [from.toISOString(), to.toISOString()];
    await manager.query(`CREATE TABLE ${table} (LIKE membership_history INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
    await manager.query(
      `WITH moved AS (DELETE FROM membership_history_default WHERE occurred_at >= $1 AND occurred_at < $2 RETURNING *)
       INSERT INTO ${table} SELECT * FROM moved`,
      [start, end],
    );
    await manager.query(`ALTER TABLE membership_history ATTACH PARTITION ${table} FOR VALUES FROM ('${start}') TO ('${end}')`);
  }

  async monthlyPartitions(manager: EntityManager): Promise<string[]> {
    return (await queryRows<{ name: string }>(manager, MONTHLY_PARTITIONS)).map((row) => row.name);
  }

  /** Published entries after `after`, up to batch `published`, at most `limit`. */
  async feed(after: FeedPosition, published: number, limit: number): Promise<FeedEntry[]> {
    const rows = await queryRows<EntryRow & { batch: number }>(this.dataSource.manager, FEED, [after.batch, after.id, published, limit]);
    return rows.map((row) => ({ ...toEntry(row), batch: row.batch }));
  }

  /** The last batch readers may see. */
  async publishedBatch(): Promise<number> {
    const [row] = await queryRows<{ batch: number }>(this.dataSource.manager, PUBLISHED);
    return row!.batch;
  }

  /** Locks the relay's state for the rest of the transaction; null when another relay holds it. */
  async lockRelay(manager: EntityManager): Promise<RelayState | null> {
    // A pass records its batch in the relay's (reference) row after statements over every shard.
    await oneConnectionPerNode(manager);
    const [row] = await queryRows<RelayState>(manager, LOCK_RELAY);
    return row ?? null;
  }

  /** Stamps up to `limit` of the oldest committed entries without a batch (and any that commit meanwhile below them) with `batch`; returns how many. */
  async stamp(manager: EntityManager, batch: number, limit: number): Promise<number> {
    const [cap] = await queryRows<{ id: number }>(manager, UNRELAYED_CAP, [limit - 1]);
    const result = await manager.query(STAMP, [batch, cap?.id ?? null]);
    const count = (result as [unknown, number])[1];
    if (count > 0) await queryRows(manager, RECORD_STAMPED, [batch, count]);
    return count;
  }

  /** Entries of `batch` that this transaction sees. */
  async countBatch(manager: EntityManager, batch: number): Promise<number> {
    const [row] = await queryRows<{ count: number }>(manager, COUNT_BATCH, [batch]);
    return row!.count;
  }

  /** Makes the stamped batch visible to readers and wakes every process's streams at commit. */
  async publish(manager: EntityManager): Promise<void> {
    await queryRows(manager, PUBLISH);
    await manager.query(NOTIFY_PUBLISHED);
  }

  /**
   * A connection of its own, told (`onChange`) whenever the relay published a batch.
   * `ready` settles once it listens.
   */
  listenForChanges(onChange: () => void, onError: (error: unknown) => void): { client: pg.Client; ready: Promise<void> } {
    const { url } = this.dataSource.options as { url?: string };
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: DATABASE_CONNECT_TIMEOUT_MS });
    client.on('notification', onChange);
    client.on('error', onError);
    const ready = client
      .connect()
      .then(() => client.query(LISTEN_PUBLISHED))
      .then(() => undefined);
    return { client, ready };
  }

  /** The last position retention dropped, if any: a consumer behind it has missed entries. */
  async feedHorizon(): Promise<FeedPosition | null> {
    const [row] = await queryRows<FeedPosition>(this.dataSource.manager, FEED_HORIZON);
    return row ?? null;
  }

  async dropPartition(manager: EntityManager, name: string): Promise<void> {
    const table = checkedName(name);
    await manager.query(RAISE_FEED_HORIZON(table));
    await manager.query(`ALTER TABLE membership_history DETACH PARTITION ${table}`);
    await manager.query(`DROP TABLE ${table}`);
  }
}

/** Partition names go into DDL: only names of the `membership_history_yYYYYmMM` form are accepted. */
function checkedName(name: string): string {
  if (!PARTITION_NAME.test(name)) throw new Error(`Not a history partition name: ${name}`);
  return name;
}
