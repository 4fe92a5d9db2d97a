import type { BenchContext } from '../context.js';
import { since, timePsql } from '../psql.js';
import { rssOf } from '../processes.js';
import { fixed, thousands, type Row } from '../table.js';

/** The monthly CSV of last month (1 000 000 rows) streamed by the API, beside psql's COPY of the same rows. */
export async function csv(context: BenchContext): Promise<Row[]> {
  const now = new Date();
  const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  const from = month.toISOString();
  const to = new Date(Date.UTC(month.getUTCFullYear(), month.getUTCMonth() + 1, 1)).toISOString();
  const baseline = timePsql(
    context.databaseUrl,
    `COPY (SELECT user_id, segment_slug, operation, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
           FROM membership_history WHERE occurred_at >= '${from}' AND occurred_at < '${to}' ORDER BY occurred_at, id)
     TO STDOUT WITH (FORMAT csv, HEADER, DELIMITER ';')`,
  );

  const link = (await (
    await fetch(`${context.api.url}/reports/segment-history?year=${month.getUTCFullYear()}&month=${month.getUTCMonth() + 1}`, {
      headers: context.auth,
    })
  ).json()) as {
    report_url: string;
  };
  const pid = context.api.process.pid!;
  const before = await rssOf(pid);
  let peak = before;
  const sampler = setInterval(() => void rssOf(pid).then((rss) => (peak = Math.max(peak, rss))), 50);
  const started = process.hrtime.bigint();
  const response = await fetch(`${context.api.url}${new URL(link.report_url).pathname}`);
  let lines = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    for (const byte of chunk) if (byte === 10) lines++;
  }
  const seconds = since(started);
  clearInterval(sampler);
  const rows = lines - 1;
  const rate = rows / seconds;
  const baselineRate = rows / baseline;
  const growthMb = (peak - before) / 1024 / 1024;
  return [
    {
      path: `CSV report of ${thousands(rows)} history rows`,
      figure: `${thousands(rate)} rows/s (${fixed(seconds)} s), API RSS +${fixed(growthMb, 1)} MB`,
      baseline: `${thousands(baselineRate)} rows/s COPY … TO STDOUT (psql)`,
      ratio: `${fixed(rate / baselineRate)}×`,
      target: '≥ 100 000 rows/s, memory ≤ +64 MB',
      pass: rows === context.size.historyLastMonth && rate >= 100_000 && growthMb <= 64,
    },
  ];
}
