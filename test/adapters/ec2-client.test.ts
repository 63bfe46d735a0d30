import assert from 'node:assert/strict';
import { AwsEc2, createEc2Client } from '../../src/adapters/ec2-client';
import { stackConfig, uniqueName } from '../helpers/stack';

describe('AwsEc2 against moto', () => {
  const client = createEc2Client(stackConfig().aws);
  const ec2 = new AwsEc2(client);
  const pipeline = uniqueName('ec2-test');

  after(() => client.destroy());

  it('describes regions (a real round trip)', async () => {
    const regions = await ec2.describeRegions();
    assert.ok(regions.includes('us-east-1'));
  });

  it('runs an instance with tags, finds it by tag, describes and terminates it', async () => {
    assert.deepEqual(await ec2.findInstancesByTag('PipelineId', pipeline), []);
    const launched = await ec2.runInstance({
      imageId: 'ami-12c6146b',
      instanceType: 't3.micro',
      userData: '#!/bin/bash\necho hello',
      tags: { PipelineId: pipeline, Name: `pinpipe-client-${pipeline}` },
    });
    assert.match(launched.instanceId, /^i-[0-9a-f]+$/);
    assert.equal(launched.tags.PipelineId, pipeline);

    const found = await ec2.findInstancesByTag('PipelineId', pipeline);
    assert.deepEqual(
      found.map((i) => i.instanceId),
      [launched.instanceId],
    );
    const described = await ec2.describeInstance(launched.instanceId);
    assert.equal(described?.state, 'running');
    assert.equal(described?.instanceType, 't3.micro');

    await ec2.terminateInstances([launched.instanceId]);
    assert.deepEqual(await ec2.findInstancesByTag('PipelineId', pipeline), []);
    const after = await ec2.describeInstance(launched.instanceId);
    assert.ok(after && ['shutting-down', 'terminated'].includes(after.state));
  });

  it('describeInstance of an unknown id is undefined', async () => {
    assert.equal(await ec2.describeInstance('i-0123456789abcdef0'), undefined);
  });
});
