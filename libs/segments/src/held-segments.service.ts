import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { AutoSegment, SegmentRef } from './segment.types.js';
import { SegmentsRepository } from './segments.repository.js';

/**
 * Segments as a membership change sees them, inside the caller's transaction: resolved and held
 * (their lock shared, see SegmentsRepository) until it ends, so no deletion or change of them
 * overtakes the memberships written meanwhile.
 */
@Injectable()
export class HeldSegmentsService {
  constructor(private readonly segments: SegmentsRepository) {}

  /** Active segments among `slugs`, each held; unknown slugs are absent. */
  resolveActive(manager: EntityManager, slugs: readonly string[]): Promise<Map<string, SegmentRef>> {
    return this.segments.resolveActive(manager, slugs);
  }

  /** The active segment with this id, held; null once deleted. */
  resolveActiveById(manager: EntityManager, id: number): Promise<SegmentRef | null> {
    return this.segments.resolveActiveById(manager, id);
  }

  /** Active segments with a positive auto_percent, held, with their thresholds. */
  lockAutoSegments(manager: EntityManager): Promise<AutoSegment[]> {
    return this.segments.lockAutoSegments(manager);
  }
}
