import { describe, expect, it } from 'vitest';
import { AppConfig, ConfigError, loadConfig } from '#libs/config';

describe('configuration', () => {
  it('defaults to a local PostgreSQL and Redis', () => {
    const config = loadConfig({});
    expect(config).toBeInstanceOf(AppConfig);
    expect(config.DATABASE_URL).toMatch(/^postgres:\/\/.*localhost/);
    expect(config.REDIS_URL).toBe('redis://localhost:6379');
    expect(config.PORT).toBe(3000);
  });

  it('reads and converts values from the environment', () => {
    const config = loadConfig({ PORT: '8080', RUN_MIGRATIONS: 'false', DATABASE_URL: 'postgresql://u:p@db:5432/x' });
    expect(config).toMatchObject({ PORT: 8080, RUN_MIGRATIONS: false, DATABASE_URL: 'postgresql://u:p@db:5432/x' });
  });

  it('reads every variable it declares, optional ones included', () => {
    expect(loadConfig({ PUBLIC_BASE_URL: 'https://segments.example.com' }).PUBLIC_BASE_URL).toBe('https://segments.example.com');
    expect(loadConfig({}).PUBLIC_BASE_URL).toBeUndefined();
  });

  it('accepts a Redis Cluster hash tag as prefix', () => {
    expect(loadConfig({ REDIS_PREFIX: '{segmentation}' }).REDIS_PREFIX).toBe('{segmentation}');
    expect(() => loadConfig({ REDIS_PREFIX: 'has space' })).toThrow(/REDIS_PREFIX/);
  });

  it('requires an explicit report link secret and public base URL in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/REPORT_LINK_SECRET[\s\S]*PUBLIC_BASE_URL: must be set in production/);
    const production = loadConfig({
      NODE_ENV: 'production',
      REPORT_LINK_SECRET: 'x'.repeat(32),
      PUBLIC_BASE_URL: 'https://segments.example.com',
    });
    expect(production.REPORT_LINK_SECRET).toBe('x'.repeat(32));
  });

  it('keeps the request timeout at least as long as the headers timeout', () => {
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000' })).toThrow(
      /HTTP_REQUEST_TIMEOUT_MS: must not be shorter than HTTP_HEADERS_TIMEOUT_MS/,
    );
  });

  it.each([
    ['PUBLIC_BASE_URL', 'localhost:3000/'],
    ['AUTH_BOOTSTRAP_TOKEN', 'short'],
    ['HTTP_REQUEST_TIMEOUT_MS', '1e4'],
    ['PORT', 'http'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://localhost/x'],
    ['REDIS_URL', 'localhost:6379'],
    ['DATABASE_POOL_SIZE', '0'],
    ['RUN_MIGRATIONS', 'maybe'],
    ['LOG_LEVEL', 'loud'],
    ['NODE_ENV', 'staging'],
  ])('rejects %s=%s naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`${name}: .*\\(got "${value}"\\)`));
  });

  it('names every bad variable at once', () => {
    expect(() => loadConfig({ PORT: 'x', REDIS_URL: 'y' })).toThrow(/PORT[\s\S]*REDIS_URL/);
  });
});
