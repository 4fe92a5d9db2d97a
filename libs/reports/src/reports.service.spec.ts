import { FutureMonthError } from '#libs/common';
import type { HistoryService } from '#libs/history';
import { beforeEach, describe, expect, it } from 'vitest';
import { mockOf } from '../../../test/support/mocks.js';
import type { ReportLinks, ReportRequest } from './report-links.js';
import { ReportsService } from './reports.service.js';

const NOW = new Date('2026-11-15T10:00:00Z');
const request = (values: Partial<ReportRequest> = {}): ReportRequest => ({ year: 2026, month: 11, format: 'csv', ...values });

describe(ReportsService.name, () => {
  let sut: ReportsService;
  let history: ReturnType<typeof mockOf<HistoryService>>;
  let links: ReturnType<typeof mockOf<ReportLinks>>;

  beforeEach(() => {
    history = mockOf<HistoryService>('now', 'copyMonth');
    links = mockOf<ReportLinks>('issue', 'verify');
    history.now.mockResolvedValue(NOW);
    links.issue.mockReturnValue('signed');
    sut = new ReportsService(history, links);
  });

  describe('issue', () => {
    it.each([
      ['the current month', request()],
      ['an earlier month of the year', request({ month: 1 })],
      ['a later month of an earlier year', request({ year: 2025, month: 12 })],
    ])('signs a link to %s as of the database clock', async (_, asked) => {
      await expect(sut.issue(asked)).resolves.toBe('signed');
      expect(links.issue).toHaveBeenCalledWith(asked, NOW);
    });

    it.each([
      ['next month', request({ month: 12 })],
      ['an earlier month of a later year', request({ year: 2027, month: 1 })],
    ])('refuses %s, signing nothing', async (_, asked) => {
      await expect(sut.issue(asked)).rejects.toEqual(new FutureMonthError(asked.year, asked.month));
      expect(links.issue).not.toHaveBeenCalled();
    });

    it('judges the month by the database clock, not the process clock', async () => {
      history.now.mockResolvedValue(new Date('2026-12-01T00:00:00Z'));
      await expect(sut.issue(request({ month: 12 }))).resolves.toBe('signed');
      history.now.mockResolvedValue(new Date('2026-11-30T23:59:59.999Z'));
      await expect(sut.issue(request({ month: 12 }))).rejects.toBeInstanceOf(FutureMonthError);
    });
  });

  it('opens a link by verifying it', () => {
    const signed = { ...request(), asOf: NOW };
    links.verify.mockReturnValue(signed);
    expect(sut.open('token')).toBe(signed);
    expect(links.verify).toHaveBeenCalledWith('token');
  });

  it('names the file by month (two digits) and user', () => {
    expect(sut.fileName(request({ month: 3 }))).toBe('segment-history-2026-03.csv');
    expect(sut.fileName(request({ month: 12, userId: 1000 }))).toBe('segment-history-2026-12-user-1000.csv');
  });

  describe('stream', () => {
    it('copies the month [first instant, next month) written before the link, for the user and format asked', async () => {
      history.copyMonth.mockResolvedValue('stream');
      await expect(sut.stream({ ...request({ userId: 5, format: 'legacy' }), asOf: NOW })).resolves.toBe('stream');
      expect(history.copyMonth).toHaveBeenCalledWith({
        from: new Date('2026-11-01T00:00:00Z'),
        to: new Date('2026-12-01T00:00:00Z'),
        userId: 5,
        format: 'legacy',
        writtenBy: NOW,
      });
    });

    it('ends December at the first instant of the next year', async () => {
      await sut.stream({ ...request({ month: 12 }), asOf: NOW });
      expect(history.copyMonth).toHaveBeenCalledWith(
        expect.objectContaining({ from: new Date('2026-12-01T00:00:00Z'), to: new Date('2027-01-01T00:00:00Z'), userId: undefined }),
      );
    });
  });
});
