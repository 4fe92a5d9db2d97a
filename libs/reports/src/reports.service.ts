import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { ProblemException } from '#libs/common';
import { pgPool } from '#libs/database';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream';
import { to as copyTo } from 'pg-copy-streams';
import { DataSource } from 'typeorm';
import { ReportLinks, type ReportRequest, type SignedReport } from './report-links.js';

/** Columns of each format; every value is computed by PostgreSQL, so Node only forwards bytes. */
const COLUMNS = {
  csv: `user_id, segment_slug AS segment, operation,
        to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS occurred_at`,
  legacy: `user_id, segment_slug, CASE operation WHEN 'add' THEN 'I' ELSE 'D' END AS operation,
           to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS executed_at`,
} as const;
const OPTIONS = { csv: `FORMAT csv, HEADER, DELIMITER ';'`, legacy: 'FORMAT csv, HEADER' } as const;

/** Monthly CSV reports of membership history, streamed straight from PostgreSQL with COPY. */
@Injectable()
export class ReportsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly links: ReportLinks,
  ) {}

  /** A signed link token for the report; the month may be the current one but not a later one. */
  issue(request: ReportRequest, now = new Date()): string {
    const requested = request.year * 12 + request.month - 1;
    const current = now.getUTCFullYear() * 12 + now.getUTCMonth();
    if (requested > current) {
      throw ProblemException.validation([{ field: 'month', message: `${request.year}-${pad(request.month)} is in the future` }]);
    }
    return this.links.issue(request, now);
  }

  open(token: string): SignedReport {
    return this.links.verify(token);
  }

  fileName(report: ReportRequest): string {
    return `segment-history-${report.year}-${pad(report.month)}${report.userId === undefined ? '' : `-user-${report.userId}`}.csv`;
  }

  /**
   * Streams the report: the month's entries (of one user, or all) that were written before
   * the link was issued, in time order. Memory stays flat whatever the size: COPY output
   * flows to the client with back-pressure, and the connection goes back to the pool when
   * the stream ends (or is destroyed, when the client goes away).
   */
  async stream(report: SignedReport): Promise<Readable> {
    const from = new Date(Date.UTC(report.year, report.month - 1, 1)).toISOString();
    const to = new Date(Date.UTC(report.year, report.month, 1)).toISOString();
    // COPY takes no bind parameters; every value below is an integer or a timestamp we built.
    const sql = `COPY (
        SELECT ${COLUMNS[report.format]}
        FROM membership_history
        WHERE occurred_at >= '${from}' AND occurred_at < '${to}' AND recorded_at <= '${report.asOf.toISOString()}'
          ${report.userId === undefined ? '' : `AND user_id = ${Number(report.userId)}`}
        ORDER BY occurred_at, id
      ) TO STDOUT WITH (${OPTIONS[report.format]})`;
    const client = await pgPool(this.dataSource).connect();
    const stream = client.query(copyTo(sql));
    finished(stream, (error) => {
      // A COPY cut short leaves the connection mid-protocol: discard it instead of reusing it.
      client.release(error ?? (stream.readableEnded ? undefined : true));
    });
    return stream;
  }
}

function pad(month: number): string {
  return String(month).padStart(2, '0');
}
