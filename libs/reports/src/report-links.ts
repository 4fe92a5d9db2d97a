import { Injectable } from '@nestjs/common';
import { InvalidReportLinkError, ReportLinkExpiredError } from '#libs/common';
import { AppConfig } from '#libs/config';
import type { ReportFormat } from '#libs/history';
import { MAX_USER_ID } from '#libs/users';
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface ReportRequest {
  year: number;
  month: number;
  userId?: number;
  /** `csv`: this service's format; `legacy`: the original service's format (compatibility route). */
  format: ReportFormat;
}

/** A report link's content: the request, and the database instant it was issued at (the report shows entries written by then). */
export interface SignedReport extends ReportRequest {
  asOf: Date;
}

interface Payload {
  y: number;
  m: number;
  u?: number;
  f: ReportFormat;
  /** Issued at, ms since epoch (database clock). */
  a: number;
  /** Expires at, ms since epoch. */
  e: number;
}

/** Latest instant a link may carry (year 9999): anything beyond is not a date PostgreSQL or Date can hold. */
const MAX_INSTANT_MS = Date.UTC(9999, 11, 31);
const MAX_TOKEN_LENGTH = 1024;

/**
 * Report links are self-contained signed tokens (HMAC-SHA256 with REPORT_LINK_SECRET):
 * any API instance can serve any link, and nothing needs to be stored.
 */
@Injectable()
export class ReportLinks {
  constructor(private readonly config: AppConfig) {}

  issue(request: ReportRequest, asOf: Date): string {
    const payload: Payload = {
      y: request.year,
      m: request.month,
      ...(request.userId === undefined ? {} : { u: request.userId }),
      f: request.format,
      a: asOf.getTime(),
      e: asOf.getTime() + this.config.REPORT_LINK_TTL_SECONDS * 1000,
    };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${body}.${this.sign(body)}`;
  }

  /** The report a token stands for; InvalidReportLinkError when it was not issued here, ReportLinkExpiredError when expired. */
  verify(token: string, now = new Date()): SignedReport {
    if (token.length > MAX_TOKEN_LENGTH) throw new InvalidReportLinkError();
    const [body, signature, ...rest] = token.split('.');
    if (!body || !signature || rest.length > 0 || !safeEqual(signature, this.sign(body))) throw new InvalidReportLinkError();
    const payload = parsePayload(body);
    if (!payload) throw new InvalidReportLinkError();
    if (payload.e <= now.getTime()) throw new ReportLinkExpiredError();
    return { year: payload.y, month: payload.m, userId: payload.u, format: payload.f, asOf: new Date(payload.a) };
  }

  private sign(body: string): string {
    return createHmac('sha256', this.config.REPORT_LINK_SECRET).update(body).digest('base64url');
  }
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Validates a signed payload anyway: a leaked secret must not turn into arbitrary SQL values. */
export function parsePayload(body: string): Payload | null {
  try {
    const value = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Partial<Payload>;
    const isInt = (n: unknown, min: number, max: number) => Number.isSafeInteger(n) && (n as number) >= min && (n as number) <= max;
    const valid =
      isInt(value.y, 1970, 9999) &&
      isInt(value.m, 1, 12) &&
      (value.u === undefined || isInt(value.u, 1, MAX_USER_ID)) &&
      (value.f === 'csv' || value.f === 'legacy') &&
      isInt(value.a, 0, MAX_INSTANT_MS) &&
      isInt(value.e, 0, MAX_INSTANT_MS);
    return valid ? (value as Payload) : null;
  } catch {
    return null;
  }
}
