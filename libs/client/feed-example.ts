// The change-feed consumer of the README (Examples, Change feed), compiled by the type check in CI.
import { createSegmentationClient, streamChanges } from '@segmentation/client';

const client = createSegmentationClient('http://localhost:3000', () => process.env.SEGMENTATION_TOKEN ?? '');
const members = new Map<string, Set<number>>(); // segment → users, kept in memory

export async function follow(after: string | undefined, save: (cursor: string) => Promise<void>): Promise<void> {
  const { stream } = await streamChanges({ client, query: { after } });
  for await (const change of stream) {
    const users = members.get(change.segment) ?? members.set(change.segment, new Set()).get(change.segment)!;
    if (change.operation === 'add') users.add(change.user_id);
    else users.delete(change.user_id);
    await save(change.cursor); // where to resume after a restart
  }
}
