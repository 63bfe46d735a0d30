import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { withHeartbeatClock } from '../../src/activities/heartbeat-clock';
import { activityAttempt } from '../fakes/activity-environment';

describe('activities/heartbeat-clock (fast)', () => {
  it('beats at once and on a clock with the latest details while the work runs, and stops after', async () => {
    const attempt = activityAttempt();
    const progress = { done: 0 };
    const result = await attempt.env.run(() =>
      withHeartbeatClock(
        () => ({ ...progress }),
        async () => {
          for (let i = 0; i < 6; i++) {
            await sleep(20);
            progress.done++;
          }
          return 'finished';
        },
        25,
      ),
    );
    assert.equal(result, 'finished');
    const beats = attempt.heartbeats as { done: number }[];
    assert.deepEqual(beats[0], { done: 0 }, 'a beat before any work');
    assert.ok(beats.length >= 3, `beats during one long unit of work (${beats.length})`);
    assert.ok(beats.at(-1)!.done > 0, 'later beats carry the progress made');
    const count = beats.length;
    await sleep(80);
    assert.equal(attempt.heartbeats.length, count, 'no beat after the work');
  });

  it('stops beating when the work fails, and lets the failure through', async () => {
    const attempt = activityAttempt();
    await assert.rejects(
      attempt.env.run(() =>
        withHeartbeatClock(
          () => 'x',
          async () => {
            await sleep(30);
            throw new Error('upload failed');
          },
          10,
        ),
      ),
      /upload failed/,
    );
    const count = attempt.heartbeats.length;
    await sleep(50);
    assert.equal(attempt.heartbeats.length, count);
  });
});
