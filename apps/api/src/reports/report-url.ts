import type { AppConfig } from '#libs/config';
import type { FastifyRequest } from 'fastify';

export const REPORT_DOWNLOAD_PATH = 'reports/segment-history';

/** Absolute link to a report: PUBLIC_BASE_URL, or the scheme and host the request came to. */
export function reportUrl(request: FastifyRequest, config: Pick<AppConfig, 'PUBLIC_BASE_URL'>, token: string): string {
  const base = config.PUBLIC_BASE_URL ?? `${request.protocol}://${request.host}`;
  return `${base}/${REPORT_DOWNLOAD_PATH}/${token}`;
}
