import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { decodeCursor, ProblemException } from '#libs/common';
import { queryRows } from '#libs/database';
import { DataSource, MoreThan, type EntityManager, type Repository } from 'typeorm';
import { SegmentEntity } from './segment.entity.js';

export interface NewSegment {
  slug: string;
  description?: string | null;
  autoPercent?: number | null;
}

export interface SegmentChange {
  description?: string | null;
  autoPercent?: number | null;
}

/** An active segment as membership changes refer to it. */
export interface SegmentRef {
  id: number;
  slug: string;
}

/** The segment catalogue: create, read, change and (soft) delete segments. */
@Injectable()
export class SegmentsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectRepository(SegmentEntity) private readonly segments: Repository<SegmentEntity>,
  ) {}

  async create(segment: NewSegment): Promise<SegmentEntity> {
    // ON CONFLICT DO NOTHING against the partial unique index: a taken slug is an answer, not a failed statement.
    const result = await this.segments
      .createQueryBuilder()
      .insert()
      .values({ slug: segment.slug, description: segment.description ?? null, autoPercent: segment.autoPercent ?? null })
      .orIgnore()
      .execute();
    const [inserted] = result.raw as { id: number }[];
    if (!inserted) throw ProblemException.conflict(`An active segment with slug "${segment.slug}" already exists`);
    return this.segments.findOneByOrFail({ id: inserted.id });
  }

  /** Active segments ordered by slug, `limit + 1` rows so the caller can tell whether a next page exists. */
  async list(limit: number, cursor?: string): Promise<SegmentEntity[]> {
    const after = cursor === undefined ? undefined : decodeCursor<string>(cursor, 'string');
    return this.segments.find({
      where: after === undefined ? {} : { slug: MoreThan(after) },
      order: { slug: 'ASC' },
      take: limit + 1,
    });
  }

  async getBySlug(slug: string): Promise<SegmentEntity> {
    const segment = await this.segments.findOneBy({ slug });
    if (!segment) throw ProblemException.notFound(`Segment "${slug}"`);
    return segment;
  }

  async update(slug: string, change: SegmentChange): Promise<SegmentEntity> {
    return this.dataSource.transaction(async (manager) => {
      const segment = await this.lockActive(manager, slug);
      if (change.description !== undefined) segment.description = change.description;
      if (change.autoPercent !== undefined) segment.autoPercent = change.autoPercent;
      return manager.save(segment);
    });
  }

  /**
   * Marks the segment deleted: it disappears from every read at once and its slug is free
   * again. Waits for membership changes already holding the segment (they lock it FOR KEY
   * SHARE), so none of them can add a member after this returns. Returns the segment.
   */
  async delete(slug: string): Promise<SegmentEntity> {
    return this.dataSource.transaction(async (manager) => {
      const segment = await this.lockActive(manager, slug);
      segment.deletedAt = new Date();
      return manager.save(segment);
    });
  }

  /**
   * Resolves slugs to active segments inside a membership change, locking each FOR KEY
   * SHARE so that a concurrent delete waits for the change to commit. Unknown slugs are
   * simply absent from the result.
   */
  async resolveActive(manager: EntityManager, slugs: string[]): Promise<Map<string, SegmentRef>> {
    if (slugs.length === 0) return new Map();
    const rows = await queryRows<SegmentRef>(
      manager,
      'SELECT id, slug FROM segments WHERE slug = ANY($1::varchar[]) AND deleted_at IS NULL ORDER BY id FOR KEY SHARE',
      [slugs],
    );
    return new Map(rows.map((row) => [row.slug, row]));
  }

  private async lockActive(manager: EntityManager, slug: string): Promise<SegmentEntity> {
    const segment = await manager.findOne(SegmentEntity, { where: { slug }, lock: { mode: 'pessimistic_write' } });
    if (!segment) throw ProblemException.notFound(`Segment "${slug}"`);
    return segment;
  }
}
