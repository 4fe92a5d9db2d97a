import { plainToInstance, Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsString, Matches, Max, Min, validateSync } from 'class-validator';

const toInt = ({ value }: { value: unknown }) => (typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value);
const toBool = ({ value }: { value: unknown }) => {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return value;
};

/**
 * Every setting the service reads, taken from the environment (names are the
 * environment variable names). Defaults point at a local PostgreSQL and Redis.
 */
export class AppConfig {
  @IsIn(['development', 'production', 'test'])
  NODE_ENV: 'development' | 'production' | 'test' = 'development';

  @IsString()
  HOST = '0.0.0.0';

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 3000;

  @Matches(/^postgres(ql)?:\/\/[^\s]+$/, { message: 'must be a postgres:// connection URL' })
  DATABASE_URL = 'postgres://postgres@localhost:5432/segmentation';

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(500)
  DATABASE_POOL_SIZE = 10;

  /** Apply pending migrations when the API starts (behind an advisory lock, so replicas can start together). */
  @Transform(toBool)
  @IsBoolean()
  RUN_MIGRATIONS = true;

  @Matches(/^rediss?:\/\/[^\s]+$/, { message: 'must be a redis:// connection URL' })
  REDIS_URL = 'redis://localhost:6379';

  /** Namespace of every Redis key this service writes, so several deployments can share one Redis. */
  @Matches(/^[A-Za-z0-9_:.-]{1,64}$/, { message: 'must be 1-64 characters of A-Z a-z 0-9 _ : . -' })
  REDIS_PREFIX = 'segmentation';

  /** Largest accepted request body; a bulk registration of 100 000 ids is about 1.7 MB. */
  @Transform(toInt)
  @IsInt()
  @Min(1024)
  @Max(64 * 1024 * 1024)
  BODY_LIMIT_BYTES = 4 * 1024 * 1024;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Builds the configuration from `env`; a bad value throws a ConfigError naming each variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  const known = Object.keys(new AppConfig());
  const provided = Object.fromEntries(known.filter((key) => env[key] !== undefined && env[key] !== '').map((key) => [key, env[key]]));
  const config = plainToInstance(AppConfig, provided);
  const errors = validateSync(config, { forbidUnknownValues: true });
  if (errors.length > 0) {
    const lines = errors.map((error) => {
      const got = provided[error.property] === undefined ? 'unset' : JSON.stringify(provided[error.property]);
      return `  ${error.property}: ${Object.values(error.constraints ?? {}).join('; ')} (got ${got})`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return config;
}
