import { changeUserSegments, createSegmentationClient, getUserSegments, type Problem } from '@segmentation/client';

// A token with scope `write` (POST /tokens); read it from your secret store, never from code.
const client = createSegmentationClient('http://localhost:3000', () => process.env.SEGMENTATION_TOKEN ?? '');

export async function enableVoiceMessages(userId: number): Promise<string[]> {
  const changed = await changeUserSegments({
    client,
    path: { user_id: userId },
    body: { add: ['AVITO_VOICE_MESSAGES', { slug: 'AVITO_DISCOUNT_30', ttl_seconds: 86_400 }] },
  });
  if (changed.error) {
    const problem: Problem = changed.error;
    throw new Error(`${problem.title}: ${problem.detail}`);
  }
  const { data } = await getUserSegments({ client, path: { user_id: userId }, throwOnError: true });
  return data.segments.map((segment) => segment.slug);
}
