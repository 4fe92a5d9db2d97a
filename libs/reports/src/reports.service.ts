import { Injectable } from '@nestjs/common';
import { FutureMonthError } from '#libs/common';
import { HistoryService } from '#libs/history';
import type { Readable } from 'node:stream';
import { ReportLinks, type ReportRequest, type SignedReport } from './report-links.js';

/** Monthly CSV reports of membership history, streamed straight from PostgreSQL. */
@Injectable()
export class ReportsService {
  constructor(
    private readonly history: HistoryService,
    private readonly links: ReportLinks,
  ) {}

  /**
   * A signed link token for the report; the month may be the current one but not a later
   * one. The link shows what was written before it was issued, by the database clock that
   * stamps history, so a link to a closed month always gives the same bytes.
   */
  async issue(request: ReportRequest): Promise<string> {
    const now = await this.history.now();
    if (request.year * 12 + request.month - 1 > now.getUTCFullYear() * 12 + now.getUTCMonth()) {
      throw new FutureMonthError(request.year, request.month);
    }
    return this.links.issue(request, now);
  }

  open(token: string): SignedReport {
    return this.links.verify(token);
  }

  fileName(report: ReportRequest): string {
    return `segment-history-${report.year}-${pad(report.month)}${report.userId === undefined ? '' : `-user-${report.userId}`}.csv`;
  }

  /** The month's entries (of one user, or all) written before the link was issued, in time order. */
  stream(report: SignedReport): Promise<Readable> {
    return this.history.copyMonth({
      from: new Date(Date.UTC(report.year, report.month - 1, 1)),
      to: new Date(Date.UTC(report.year, report.month, 1)),
      userId: report.userId,
      format: report.format,
      writtenBy: report.asOf,
    });
  }
}

function pad(month: number): string {
  return String(month).padStart(2, '0');
}
