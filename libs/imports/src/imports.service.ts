import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { InjectMetric, makeCounterProvider } from '@willsoto/nestjs-prometheus';
import { NotFoundError, type Caller } from '#libs/common';
import { AppConfig } from '#libs/config';
import { MembershipWritesService } from '#libs/memberships';
import { JobsProducer } from '#libs/queue';
import { SegmentsService } from '#libs/segments';
import { MAX_USER_ID } from '#libs/users';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Counter } from 'prom-client';
import { DataSource } from 'typeorm';
import { ImportFileParser } from './import-file.js';
import { ImportsRepository } from './imports.repository.js';
import type { Import, ImportMode } from './import.entity.js';

export const IMPORTED_IDS = 'import_user_ids_applied_total';
export const importedIdsProvider = makeCounterProvider({
  name: IMPORTED_IDS,
  help: 'User ids of CSV imports applied, by mode',
  labelNames: ['mode'],
});

/** How an import run ended: finished (done or failed), or asked to stop between two chunks. */
export type ImportOutcome = 'finished' | 'interrupted';

/**
 * CSV imports of a segment's members. The file streams into a staging table (COPY, memory
 * flat) and is checked line by line on the way: a file with any bad line changes nothing and
 * the import reports its first bad lines. A valid file is applied by a job, chunk by chunk,
 * each chunk one transaction through the membership write path that also advances the
 * import's cursor, so a crashed worker's successor continues exactly where it stopped.
 * `replace` then removes the segment's manual members the file does not hold.
 */
@Injectable()
export class ImportsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly imports: ImportsRepository,
    private readonly segments: SegmentsService,
    private readonly memberships: MembershipWritesService,
    private readonly jobs: JobsProducer,
    private readonly config: AppConfig,
    @InjectMetric(IMPORTED_IDS) private readonly applied: Counter,
  ) {}

  /**
   * Reads `file` into a new import of the segment. A valid file starts its job (state
   * `running`); a file with bad lines is `failed` with them; an empty file is a no-op (`done`).
   * `ttlSeconds` gives every added membership the same expiry, counted from now.
   */
  async start(slug: string, mode: ImportMode, ttlSeconds: number | undefined, file: Readable, caller: Caller): Promise<Import> {
    const segment = await this.segments.getBySlug(slug);
    const id = randomUUID();
    const parser = new ImportFileParser(id, MAX_USER_ID, this.config.IMPORT_BODY_LIMIT_BYTES);
    file.on('error', (error) => parser.destroy(error));
    const row = { id, segmentId: segment.id, mode, ttlSeconds: mode === 'remove' ? undefined : ttlSeconds, actor: caller.actor };
    const staged = await this.imports.stage(file.pipe(parser), async (client) => {
      if (!parser.valid || parser.ids === 0) return undefined;
      await this.imports.insert(client, {
        ...row,
        lines: parser.lines,
        total: await this.imports.countStaged(client, id),
        badLines: null,
      });
      return true;
    });
    if (staged) {
      await this.jobs.import({ importId: id, requestId: caller.requestId });
    } else {
      // A rejected or empty file is finished as soon as it is recorded.
      await this.dataSource.transaction(async (manager) => {
        await this.imports.insert(manager, { ...row, lines: parser.lines, total: 0, badLines: parser.valid ? null : parser.reported });
        await this.imports.finish(manager, id, parser.valid ? 'done' : 'failed');
      });
    }
    return this.get(id);
  }

  async get(id: string): Promise<Import> {
    const found = await this.imports.find(id);
    if (!found) throw new NotFoundError(`Import ${id}`);
    return found;
  }

  /** Applies a running import chunk by chunk until it is finished or `shouldStop`. */
  async run(importId: string, shouldStop: () => boolean = () => false): Promise<ImportOutcome> {
    for (;;) {
      let step: 'continue' | 'finished';
      try {
        step = await this.chunk(importId);
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
        await this.dataSource.transaction((manager) => this.imports.finish(manager, importId, 'failed', 'The segment was deleted'));
        return 'finished';
      }
      if (step === 'finished') return 'finished';
      if (shouldStop()) return 'interrupted';
    }
  }

  /** Running imports: what the reconciler (re)enqueues. */
  unfinished(): Promise<string[]> {
    return this.imports.unfinished();
  }

  /** Marks a running import failed once its job used up its attempts; its staged ids are dropped. */
  fail(importId: string, error: string): Promise<void> {
    return this.imports.fail(importId, error);
  }

  /** How many imports are in each state (running, done, failed). */
  stateCounts(): Promise<{ state: string; count: number }[]> {
    return this.imports.stateCounts();
  }

  private chunk(importId: string): Promise<'continue' | 'finished'> {
    return this.dataSource.transaction(async (manager) => {
      const running = await this.imports.lockRunning(manager, importId);
      if (!running) return 'finished';
      const size = this.config.JOB_BATCH_SIZE;
      if (running.phase === 'apply') {
        const ids = await this.imports.nextStaged(manager, importId, running.cursor, size);
        if (ids.length === 0) {
          if (running.mode !== 'replace') return this.finish(manager, importId);
          await this.imports.advance(manager, importId, { phase: 'prune', cursor: 0, processed: 0, added: 0, removed: 0 });
          return 'continue';
        }
        const change =
          running.mode === 'remove' ? { add: [], remove: ids } : { add: ids, remove: [], expiresAt: running.expiresAt ?? undefined };
        const counts = await this.memberships.changeSegmentMembersIn(manager, running.segmentId, change, running.actor);
        await this.imports.advance(manager, importId, { phase: 'apply', cursor: ids.at(-1)!, processed: ids.length, ...counts });
        this.applied.inc({ mode: running.mode }, ids.length);
        return 'continue';
      }
      const unlisted = await this.imports.nextUnlisted(manager, importId, running.segmentId, running.cursor, size);
      if (unlisted.length === 0) return this.finish(manager, importId);
      const counts = await this.memberships.changeSegmentMembersIn(
        manager,
        running.segmentId,
        { add: [], remove: unlisted },
        running.actor,
      );
      await this.imports.advance(manager, importId, { phase: 'prune', cursor: unlisted.at(-1)!, processed: 0, ...counts });
      return 'continue';
    });
  }

  private async finish(manager: Parameters<ImportsRepository['finish']>[0], importId: string): Promise<'finished'> {
    await this.imports.finish(manager, importId, 'done');
    return 'finished';
  }
}
