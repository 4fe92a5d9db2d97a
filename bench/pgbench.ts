import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { segmentSlug, withDb } from './dataset.js';

export interface PgbenchResult {
  tps: number;
  latencyMs: number;
}

/**
 * The statements of one `PATCH /users/{id}/segments` (2 adds, 1 removal, random user and
 * segments), written by hand as one transaction per request: what a raw-SQL service would run
 * for the same work (lock the user, resolve and lock the segments, removal with opt-out, upsert
 * with opt-in, read back, history of the changes). Segment ids are BENCH_SEGMENT_<k> = base + k.
 */
function patchScript(users: number, segments: number): string {
  return `\\set uid random(1, ${users})
\\set a random(0, ${segments - 1})
\\set b (:a + 1 + random(0, ${Math.floor(segments / 2) - 2})) % ${segments}
\\set c (:a + ${Math.floor(segments / 2)} + random(0, ${Math.floor(segments / 2) - 2})) % ${segments}
\\set sa :base + :a
\\set sb :base + :b
\\set sc :base + :c
BEGIN;
SELECT id FROM users WHERE id = ANY(ARRAY[:uid]::bigint[]) ORDER BY id FOR NO KEY UPDATE;
SELECT id, slug FROM segments WHERE id = ANY(ARRAY[:sa, :sb, :sc]::int[]) AND deleted_at IS NULL ORDER BY id FOR KEY SHARE;
WITH opt_out AS (
  INSERT INTO segment_opt_outs (user_id, segment_id) SELECT * FROM unnest(ARRAY[:uid]::bigint[], ARRAY[:sc]::int[]) ON CONFLICT DO NOTHING
)
DELETE FROM memberships m USING unnest(ARRAY[:uid, :uid, :uid]::bigint[], ARRAY[:sa, :sb, :sc]::int[], ARRAY[false, false, true]) AS t (user_id, segment_id, removing)
WHERE m.user_id = t.user_id AND m.segment_id = t.segment_id AND (t.removing OR m.expires_at <= now())
RETURNING m.user_id, m.segment_id, m.expires_at, coalesce(m.expires_at <= now(), false) AS expired;
WITH opt_in AS (
  DELETE FROM segment_opt_outs o USING unnest(ARRAY[:uid, :uid]::bigint[], ARRAY[:sa, :sb]::int[]) AS a (user_id, segment_id)
  WHERE o.user_id = a.user_id AND o.segment_id = a.segment_id
)
INSERT INTO memberships (user_id, segment_id, source, expires_at)
SELECT a.user_id, a.segment_id, 'manual', NULL FROM unnest(ARRAY[:uid, :uid]::bigint[], ARRAY[:sa, :sb]::int[]) AS a (user_id, segment_id)
ON CONFLICT (user_id, segment_id) DO UPDATE SET expires_at = EXCLUDED.expires_at, source = EXCLUDED.source
  WHERE memberships.expires_at IS DISTINCT FROM EXCLUDED.expires_at OR memberships.source <> EXCLUDED.source
RETURNING user_id, segment_id, xmax = 0 AS inserted;
SELECT m.user_id, s.slug, m.expires_at, m.source FROM memberships m JOIN segments s ON s.id = m.segment_id
WHERE m.user_id = ANY(ARRAY[:uid]::bigint[]) AND s.deleted_at IS NULL AND NOT coalesce(m.expires_at <= now(), false) ORDER BY m.user_id, s.slug;
INSERT INTO membership_history (user_id, segment_id, segment_slug, operation, reason, actor, occurred_at, feed_batch)
SELECT :uid, c.segment_id, 'BENCH', c.operation, 'manual', 'pgbench', clock_timestamp(), 0
FROM unnest(ARRAY[:sa, :sc]::int[], ARRAY['add', 'remove']::varchar[]) AS c (segment_id, operation);
END;
`;
}

/** The id of BENCH_SEGMENT_00; the data set's segments have consecutive ids. */
async function segmentBase(databaseUrl: string, segments: number): Promise<number> {
  return withDb(databaseUrl, async (db) => {
    const { rows } = await db.query('SELECT slug, id FROM segments WHERE slug = ANY($1) AND deleted_at IS NULL', [
      Array.from({ length: segments }, (_, index) => segmentSlug(index)),
    ]);
    const idOf = new Map(rows.map((row) => [row.slug as string, row.id as number]));
    const base = idOf.get(segmentSlug(0))!;
    for (let index = 0; index < segments; index++) {
      if (idOf.get(segmentSlug(index)) !== base + index) throw new Error(`${segmentSlug(index)} does not have id ${base + index}`);
    }
    return base;
  });
}

/** pgbench -M prepared with the PATCH transaction, `clients` clients, for `seconds`. */
export async function pgbenchPatch(
  databaseUrl: string,
  users: number,
  segments: number,
  clients: number,
  seconds: number,
): Promise<PgbenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'seg-pgbench-'));
  try {
    const script = join(dir, 'patch.sql');
    writeFileSync(script, patchScript(users, segments));
    const base = await segmentBase(databaseUrl, segments);
    const output = execFileSync(
      'pgbench',
      ['-n', '-M', 'prepared', '-c', String(clients), '-j', '2', '-T', String(seconds), '-D', `base=${base}`, '-f', script, databaseUrl],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const tps = Number(/tps = ([\d.]+)/.exec(output)?.[1]);
    const latencyMs = Number(/latency average = ([\d.]+) ms/.exec(output)?.[1]);
    if (!Number.isFinite(tps)) throw new Error(`pgbench printed no tps:\n${output}`);
    return { tps, latencyMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
