import { drawEvents, type Seed, type SourceEvent } from '../domain/generator';

export interface Batch {
  /** Draw position of the batch's first event: fixes its slot in the rate schedule. */
  position: number;
  events: SourceEvent[];
}

/** The draw of `count` events, cut into batches of `size` (the last may be shorter). */
export function* batches(seed: Seed, count: number, size: number): Generator<Batch> {
  let current: Batch = { position: 0, events: [] };
  let position = 0;
  for (const event of drawEvents({ seed, count })) {
    current.events.push(event);
    position += 1;
    if (current.events.length === size) {
      yield current;
      current = { position, events: [] };
    }
  }
  if (current.events.length > 0) yield current;
}
