import { randomBytes } from 'node:crypto';
import type { KafkaPort } from '../../src/ports/kafka';

export const randomPipelineId = () => randomBytes(6).toString('hex');

/** A valid raw pin whose `index` is a sequence number, so each record is identifiable. */
export function pinRecord(seq: number): Record<string, unknown> {
  return {
    index: seq,
    unique_id: '9bf39437-42a6-4f02-99a0-9a0383d8cd70',
    title: `Pin ${seq}`,
    description: 'A test pin',
    poster_name: 'Poster',
    follower_count: `${(seq % 900) + 1}k`,
    tag_list: 'a,b,c',
    is_image_or_video: 'image',
    image_src: 'https://i.pinimg.com/originals/x.jpg',
    downloaded: 1,
    save_location: 'Local save in /data/art',
    category: 'art',
  };
}

export interface ProducedSet {
  /** Sequence numbers of the valid records produced. */
  valid: number[];
  /** How many invalid records (not JSON or failing the schema) were produced. */
  invalid: number;
}

/**
 * Produces `count` valid pins (indexes start..start+count-1) round-robin over the topic's
 * partitions, with an invalid record (alternately not JSON and schema-violating) every
 * `badEvery` records when badEvery > 0.
 */
export async function producePins(
  kafka: KafkaPort,
  topic: string,
  opts: { start: number; count: number; partitions: number; badEvery?: number; chunk?: number },
): Promise<ProducedSet> {
  const valid: number[] = [];
  let invalid = 0;
  const chunk = opts.chunk ?? 500;
  let batch: { value: string; partition: number }[] = [];
  let n = 0;
  for (let seq = opts.start; seq < opts.start + opts.count; seq++) {
    const partition = n++ % opts.partitions;
    batch.push({ value: JSON.stringify(pinRecord(seq)), partition });
    valid.push(seq);
    if (opts.badEvery && seq % opts.badEvery === 0) {
      invalid++;
      batch.push({
        value:
          invalid % 2
            ? `{"index": ${seq}, broken`
            : JSON.stringify({ ...pinRecord(seq), index: 'x' }),
        partition,
      });
    }
    if (batch.length >= chunk) {
      await kafka.produce(topic, batch);
      batch = [];
    }
  }
  if (batch.length) await kafka.produce(topic, batch);
  return { valid, invalid };
}
