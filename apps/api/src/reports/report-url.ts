import type { AppConfig } from '#libs/config';

export const REPORT_DOWNLOAD_PATH = 'reports/segment-history';

/**
 * Absolute link to a report: PUBLIC_BASE_URL (required in production), else this process on
 * localhost. Never the request's Host header, which a client chooses.
 */
export function reportUrl(config: Pick<AppConfig, 'PUBLIC_BASE_URL' | 'PORT'>, token: string): string {
  const base = config.PUBLIC_BASE_URL ?? `http://localhost:${config.PORT}`;
  return `${base}/${REPORT_DOWNLOAD_PATH}/${token}`;
}
