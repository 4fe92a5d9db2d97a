/** SQLSTATE classes and codes that mean "PostgreSQL is not there right now", not "the statement is wrong". */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '53400']);
const CONNECTION_EXCEPTION_CLASS = '08';
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** node-postgres and pg-pool raise these as plain Errors without a code. */
const DRIVER_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Connection ended unexpectedly',
];

/**
 * TypeORM releases a transaction's query runner when its connection fails; the commit or the
 * next statement of that transaction then raises this (the connection, not the statement, failed).
 */
const RELEASED_RUNNER = 'QueryRunnerAlreadyReleasedError';

/**
 * True when `error` says the database is unreachable, restarting or out of connections (a
 * request may succeed when retried later), as opposed to a failed statement.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
    const { code, message, name } = current as { code?: unknown; message?: unknown; name?: unknown };
    if (name === RELEASED_RUNNER) return true;
    if (
      typeof code === 'string' &&
      (UNAVAILABLE_SQLSTATES.has(code) || NETWORK_ERRORS.has(code) || code.startsWith(CONNECTION_EXCEPTION_CLASS))
    )
      return true;
    if (typeof message === 'string' && DRIVER_MESSAGES.some((text) => message.includes(text))) return true;
    // TypeORM's QueryFailedError keeps the driver's error; AggregateError (connect to several addresses) keeps its causes.
    const next = current as { driverError?: unknown; cause?: unknown; errors?: unknown[] };
    current = next.driverError ?? next.cause ?? next.errors?.[0];
  }
  return false;
}

/**
 * How PostgreSQL refused a value of a request, when it did: a data exception (SQLSTATE class
 * 22: a character it cannot store, a number out of range) or an integrity constraint (class
 * 23). Validation catches these first; the database's own checks are the last line, and a
 * request that reaches them is still the client's error, never a 500.
 */
export function databaseRejection(error: unknown): 'invalid' | 'conflict' | undefined {
  const driver = (error as { driverError?: unknown })?.driverError ?? error;
  const code = (driver as { code?: unknown })?.code;
  if (typeof code !== 'string' || code.length !== 5) return undefined;
  if (code.startsWith('22')) return 'invalid';
  if (code.startsWith('23')) return 'conflict';
  return undefined;
}

const RETRYABLE_SQLSTATES = new Set(['40P01', '40001']);

/**
 * Runs `transaction` again (up to three times) when PostgreSQL aborted it as a deadlock victim
 * or a serialization failure: bulk changes lock many rows, and another instance's writes may
 * cross them in a different order; nothing of an aborted attempt was applied.
 */
export async function retryOnDeadlock<T>(transaction: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction();
    } catch (error) {
      const driver = (error as { driverError?: unknown })?.driverError ?? error;
      if (attempt >= attempts || !RETRYABLE_SQLSTATES.has((driver as { code?: string })?.code ?? '')) throw error;
    }
  }
}
