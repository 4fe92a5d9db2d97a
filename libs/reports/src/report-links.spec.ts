import { InvalidReportLinkError, ReportLinkExpiredError } from '#libs/common';
import { AppConfig } from '#libs/config';
import { describe, expect, it } from 'vitest';
import { ReportLinks } from './report-links.js';

const config = (secret: string) => Object.assign(new AppConfig(), { REPORT_LINK_SECRET: secret, REPORT_LINK_TTL_SECONDS: 3600 });
const links = new ReportLinks(config('a'.repeat(32)));
const issuedAt = new Date('2026-11-15T10:00:00.000Z');
const request = { year: 2026, month: 11, userId: 1000, format: 'csv' as const };
const forge = (payload: object) => `${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig`;

describe('report links', () => {
  it('round-trips the request and the instant it was issued at', () => {
    const token = links.issue(request, issuedAt);
    expect(links.verify(token, new Date('2026-11-15T10:30:00Z'))).toEqual({ ...request, asOf: issuedAt });
  });

  it('expires after REPORT_LINK_TTL_SECONDS', () => {
    const token = links.issue(request, issuedAt);
    expect(() => links.verify(token, new Date('2026-11-15T11:00:00Z'))).toThrow(ReportLinkExpiredError);
  });

  it('refuses a link signed with another secret, altered, or malformed', () => {
    const token = links.issue(request, issuedAt);
    const [body, signature] = token.split('.');
    const now = new Date('2026-11-15T10:01:00Z');
    expect(() => new ReportLinks(config('b'.repeat(32))).verify(token, now)).toThrow(InvalidReportLinkError);
    const altered = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), u: 1001 })).toString(
      'base64url',
    );
    for (const bad of [`${altered}.${signature}`, body!, `${token}.x`, '', '.', 'x'.repeat(2000)]) {
      expect(() => links.verify(bad, now), bad.slice(0, 20)).toThrow(InvalidReportLinkError);
    }
  });

  it.each([
    { y: 2026, m: 13, f: 'csv', a: 0, e: 1 },
    { y: 1969, m: 1, f: 'csv', a: 0, e: 1 },
    { y: 2026, m: 1, u: 0, f: 'csv', a: 0, e: 1 },
    { y: 2026, m: 1, u: 2 ** 53, f: 'csv', a: 0, e: 1 },
    { y: 2026, m: 1, f: 'xml', a: 0, e: 1 },
    { y: 2026, m: 1, f: 'csv', a: Number.MAX_SAFE_INTEGER, e: Number.MAX_SAFE_INTEGER },
    { y: 2026, m: 1.5, f: 'csv', a: 0, e: 1 },
  ])('refuses a correctly signed payload with out-of-range values: %o', (payload) => {
    const body = forge(payload).split('.')[0]!;
    const signed = new ReportLinks(config('a'.repeat(32)));
    const token = `${body}.${(signed as unknown as { sign: (body: string) => string }).sign(body)}`;
    expect(() => signed.verify(token, new Date(0))).toThrow(InvalidReportLinkError);
  });
});
