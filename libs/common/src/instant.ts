const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-](\d{2}):(\d{2}))$/i;

const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

/**
 * An instant written as ISO 8601 / RFC 3339 with an explicit offset (`2030-01-31T12:00:00Z`,
 * `…+02:00`), on a real calendar date (`2027-02-30` is not one, and never rolls over into
 * March); undefined otherwise. Fractions beyond milliseconds are truncated.
 */
export function parseInstant(text: string): Date | undefined {
  const match = RFC3339.exec(text);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second = '0', , zone, zoneHours = '0', zoneMinutes = '0'] = match;
  const [y, mo, d, h, mi, s] = [year, month, day, hour, minute, second].map(Number) as [number, number, number, number, number, number];
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 59) return undefined;
  if (zone !== 'Z' && zone !== 'z' && (Number(zoneHours) > 23 || Number(zoneMinutes) > 59)) return undefined;
  const at = new Date(text.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(at.getTime()) ? undefined : at;
}
