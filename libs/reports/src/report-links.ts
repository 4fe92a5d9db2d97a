import { Injectable } from '@nestjs/common';
import { ProblemException } from '#libs/common';
import { AppConfig } from '#libs/config';
import { createHmac, timingSafeEqual } from 'node:crypto';

/** `csv`: this service's format; `legacy`: the original service's format (compatibility route). */
export type ReportFormat = 'csv' | 'legacy';

export interface ReportRequest {
  year: number;
  month: number;
  userId?: number;
  format: ReportFormat;
}

/** A report link's content: the request, and the instant it was issued (the report shows entries written by then). */
export interface SignedReport extends ReportRequest {
  asOf: Date;
}

interface Payload {
  y: number;
  m: number;
  u?: number;
  f: ReportFormat;
  /** Issued at, ms since epoch. */
  a: number;
  /** Expires at, ms since epoch. */
  e: number;
}

/**
 * Report links are self-contained signed tokens (HMAC-SHA256 with REPORT_LINK_SECRET):
 * any API instance can serve any link, and nothing needs to be stored.
 */
@Injectable()
export class ReportLinks {
  constructor(private readonly config: AppConfig) {}

  issue(request: ReportRequest, now = new Date()): string {
    const payload: Payload = {
      y: request.year,
      m: request.month,
      ...(request.userId === undefined ? {} : { u: request.userId }),
      f: request.format,
      a: now.getTime(),
      e: now.getTime() + this.config.REPORT_LINK_TTL_SECONDS * 1000,
    };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${body}.${this.sign(body)}`;
  }

  /** The report a token stands for; a 403 problem when it was not issued here, 410 when expired. */
  verify(token: string, now = new Date()): SignedReport {
    const [body, signature, ...rest] = token.split('.');
    if (!body || !signature || rest.length > 0 || !safeEqual(signature, this.sign(body))) throw invalidLink();
    const payload = parsePayload(body);
    if (!payload) throw invalidLink();
    if (payload.e <= now.getTime()) {
      throw new ProblemException({
        type: 'report-link-expired',
        title: 'Report link expired',
        status: 410,
        detail: 'Request a new report link',
      });
    }
    return { year: payload.y, month: payload.m, userId: payload.u, format: payload.f, asOf: new Date(payload.a) };
  }

  private sign(body: string): string {
    return createHmac('sha256', this.config.REPORT_LINK_SECRET).update(body).digest('base64url');
  }
}

function invalidLink(): ProblemException {
  return new ProblemException({
    type: 'invalid-report-link',
    title: 'Invalid report link',
    status: 403,
    detail: 'The link was not issued by this service or was altered',
  });
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Validates a signed payload anyway: a leaked secret must not turn into arbitrary SQL values. */
function parsePayload(body: string): Payload | null {
  try {
    const value = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Partial<Payload>;
    const isInt = (n: unknown, min: number, max: number) => Number.isSafeInteger(n) && (n as number) >= min && (n as number) <= max;
    const valid =
      isInt(value.y, 1970, 9999) &&
      isInt(value.m, 1, 12) &&
      (value.u === undefined || isInt(value.u, 1, Number.MAX_SAFE_INTEGER)) &&
      (value.f === 'csv' || value.f === 'legacy') &&
      isInt(value.a, 0, Number.MAX_SAFE_INTEGER) &&
      isInt(value.e, 0, Number.MAX_SAFE_INTEGER);
    return valid ? (value as Payload) : null;
  } catch {
    return null;
  }
}
