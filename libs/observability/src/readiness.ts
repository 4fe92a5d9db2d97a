import { InjectQueue } from '@nestjs/bull';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { NotReadyError, withTimeout } from '#libs/common';
import { migrationsApplied, pingDatabase } from '#libs/database';
import { QUEUE_NAME } from '#libs/queue';
import type { Queue } from 'bull';
import { DataSource } from 'typeorm';

/** A dependency check gets this long before it counts as down. */
const CHECK_TIMEOUT_MS = 1000;

export type CheckStatus = 'up' | 'down';

/**
 * Whether this process can serve: PostgreSQL and Redis answer and every migration is applied.
 * The apps serve it as /health/ready (their health controllers); this knows nothing of HTTP.
 */
@Injectable()
export class Readiness {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectQueue(QUEUE_NAME) private readonly queue: Queue,
  ) {}

  /** Each check's status; NotReadyError naming every check that is down. */
  async assertReady(): Promise<Record<'database' | 'migrations' | 'redis', CheckStatus>> {
    const [database, migrations, redis] = await Promise.all([
      check(() => pingDatabase(this.dataSource.manager)),
      check(async () => {
        if (!(await migrationsApplied(this.dataSource))) throw new Error('pending migrations');
      }),
      check(() => this.queue.client.ping()),
    ]);
    const checks = { database, migrations, redis };
    const down = Object.entries(checks).filter(([, status]) => status === 'down');
    if (down.length > 0) throw new NotReadyError(down.map(([name]) => name));
    return checks;
  }
}

async function check(probe: () => Promise<unknown>): Promise<CheckStatus> {
  try {
    await withTimeout(probe(), CHECK_TIMEOUT_MS, 'The check');
    return 'up';
  } catch {
    return 'down';
  }
}
