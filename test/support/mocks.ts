import { vi, type Mock } from 'vitest';

/**
 * Mocks for the unit tier's service specs (in the style of Immich's server service specs): a
 * service is constructed with `vi.fn()` stand-ins for its repositories and collaborators, and
 * a spec checks its rules: what it validates, which calls it makes with which arguments, and
 * what it throws.
 */

/** An object whose named methods are `vi.fn()`s, typed as the `T` the service expects. */
export function mockOf<T>(...methods: (keyof T & string)[]): T & { [K in keyof T]: Mock } {
  return Object.fromEntries(methods.map((method) => [method, vi.fn()])) as unknown as T & { [K in keyof T]: Mock };
}

/** The entity manager a mocked transaction hands to its work: its identity, and the raw statements run on it (e.g. SET LOCAL). */
export interface FakeManager {
  readonly fake: 'manager';
  query: Mock;
}

/**
 * A DataSource whose `transaction(work)` runs `work` with `manager` at once (and whose
 * `manager` is that manager too); `transaction` is a spy, so a spec can count transactions.
 */
export function mockDataSource() {
  const manager: FakeManager = { fake: 'manager', query: vi.fn(async () => []) };
  const transaction = vi.fn(async (work: (manager: FakeManager) => unknown) => work(manager));
  return { dataSource: { transaction, manager } as never, transaction, manager };
}

/** Config values a spec sets, typed as the config the service expects. */
export function configOf<T>(values: Partial<T>): T {
  return values as T;
}
