import assert from 'node:assert/strict';
import {
  mergeCorrection,
  parseProvisionInput,
  type ProvisionInput,
} from '../../src/domain/provision-input';

const id = '0a1b2c3d4e5f';

describe('domain/provision-input', () => {
  it('fills every default from a pipeline id alone', () => {
    assert.deepEqual(parseProvisionInput({ pipelineId: id }), {
      ok: true,
      settings: {
        pipelineId: id,
        target: 'local',
        region: 'us-east-1',
        mode: 'apply',
        bucket: { encryption: true, blockPublicAccess: true },
        topics: { partitions: 3, replicationFactor: 1, retentionMs: 7 * 24 * 3600_000 },
        clientHost: {
          instanceType: 't3.micro',
          kafkaBrokers: '127.0.0.1:9092',
          readyTimeoutSeconds: 600,
        },
        aws: {
          apiCidr: '0.0.0.0/0',
          kafka: {
            mode: 'create',
            kafkaVersion: '3.6.0',
            brokerCount: 2,
            instanceType: 'kafka.t3.small',
            volumeGiB: 10,
            pollSeconds: 30,
            readyTimeoutMinutes: 90,
          },
          apiGateway: { enabled: true, stage: 'v1' },
        },
        endpoint: {},
        ingestion: {
          start: true,
          maxRecords: 10_000,
          maxBytes: 16 * 1024 * 1024,
          rotateIntervalMs: 30_000,
        },
        schedule: { enabled: true, cron: '0 2 * * *', timezone: 'UTC', paused: false },
        maxAttemptsPerStep: 5,
        bucketName: `user-${id}-bucket`,
      },
    });
  });

  it('aws.kafka: adopt needs a cluster ARN, and a cluster ARN means adopt', () => {
    const arn = 'arn:aws:kafka:us-east-1:123456789012:cluster/shared/abcd-1';
    const adopt = parseProvisionInput({ pipelineId: id, aws: { kafka: { mode: 'adopt' } } });
    assert.deepEqual(adopt, {
      ok: false,
      reason: 'aws.kafka.clusterArn: aws.kafka.mode "adopt" needs the cluster ARN',
    });
    const arnOnly = parseProvisionInput({ pipelineId: id, aws: { kafka: { clusterArn: arn } } });
    assert.deepEqual(arnOnly, {
      ok: false,
      reason: 'aws.kafka.mode: a clusterArn is adopted: set aws.kafka.mode to "adopt"',
    });
    const ok = parseProvisionInput({
      pipelineId: id,
      aws: { kafka: { mode: 'adopt', clusterArn: arn }, sshCidr: '203.0.113.7/32' },
    });
    assert.ok(ok.ok);
    assert.equal(ok.settings.aws.kafka.clusterArn, arn);
    const badCidr = parseProvisionInput({ pipelineId: id, aws: { sshCidr: '203.0.113.7' } });
    assert.ok(!badCidr.ok);
    assert.match(badCidr.reason, /^aws\.sshCidr: expected an IPv4 CIDR/);
  });

  it('keeps what is given over the defaults; an explicit bucket name is the bucket', () => {
    const r = parseProvisionInput({
      pipelineId: id,
      target: 'aws',
      mode: 'plan',
      bucket: { name: 'my-bucket' },
      topics: { partitions: 6 },
      ingestion: { start: false, rotateIntervalMs: 2_000 },
    });
    assert.ok(r.ok);
    assert.equal(r.settings.target, 'aws');
    assert.equal(r.settings.mode, 'plan');
    assert.equal(r.settings.bucketName, 'my-bucket');
    assert.deepEqual(r.settings.topics, {
      partitions: 6,
      replicationFactor: 1,
      retentionMs: 604800000,
    });
    assert.equal(r.settings.ingestion.start, false);
    assert.equal(r.settings.ingestion.rotateIntervalMs, 2_000);
  });

  describe('each invalid field is named by its path', () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['no input', undefined, /^input: /],
      ['pipelineId', { pipelineId: 'NOTHEX' }, /^pipelineId: expected 12 lowercase hex/],
      ['target', { target: 'gcp' }, /^target: /],
      ['region', { region: 'mars' }, /^region: expected an AWS region/],
      ['mode', { mode: 'yolo' }, /^mode: /],
      ['bucket.name', { bucket: { name: 'A_B' } }, /^bucket\.name: expected an S3 bucket name/],
      ['bucket.encryption', { bucket: { encryption: 'yes' } }, /^bucket\.encryption: /],
      ['topics.partitions', { topics: { partitions: 0 } }, /^topics\.partitions: /],
      ['topics.partitions int', { topics: { partitions: 1.5 } }, /^topics\.partitions: /],
      [
        'topics.replicationFactor',
        { topics: { replicationFactor: 11 } },
        /^topics\.replicationFactor: /,
      ],
      ['topics.retentionMs', { topics: { retentionMs: 1 } }, /^topics\.retentionMs: /],
      [
        'clientHost.imageId',
        { clientHost: { imageId: 'nope' } },
        /^clientHost\.imageId: expected an AMI id/,
      ],
      [
        'clientHost.instanceType',
        { clientHost: { instanceType: 'big' } },
        /^clientHost\.instanceType: expected e\.g\. t3\.micro/,
      ],
      [
        'clientHost.subnetId',
        { clientHost: { subnetId: 'x' } },
        /^clientHost\.subnetId: expected subnet-/,
      ],
      [
        'clientHost.securityGroupIds',
        { clientHost: { securityGroupIds: ['x'] } },
        /^clientHost\.securityGroupIds\.0: expected sg-/,
      ],
      ['clientHost.keyName', { clientHost: { keyName: '' } }, /^clientHost\.keyName: /],
      [
        'clientHost.kafkaBrokers',
        { clientHost: { kafkaBrokers: 'a b' } },
        /^clientHost\.kafkaBrokers: expected host:port/,
      ],
      [
        'clientHost.userData',
        { clientHost: { userData: 'x'.repeat(16_001) } },
        /^clientHost\.userData: /,
      ],
      [
        'clientHost.readyTimeoutSeconds',
        { clientHost: { readyTimeoutSeconds: 1 } },
        /^clientHost\.readyTimeoutSeconds: /,
      ],
      ['endpoint.url', { endpoint: { url: 'not a url' } }, /^endpoint\.url: /],
      [
        'endpoint.readyTimeoutSeconds',
        { endpoint: { readyTimeoutSeconds: 0 } },
        /^endpoint\.readyTimeoutSeconds: /,
      ],
      ['ingestion.start', { ingestion: { start: 'yes' } }, /^ingestion\.start: /],
      ['ingestion.maxRecords', { ingestion: { maxRecords: 0 } }, /^ingestion\.maxRecords: /],
      ['ingestion.maxBytes', { ingestion: { maxBytes: 1 } }, /^ingestion\.maxBytes: /],
      [
        'ingestion.rotateIntervalMs',
        { ingestion: { rotateIntervalMs: 1 } },
        /^ingestion\.rotateIntervalMs: /,
      ],
      ['schedule.enabled', { schedule: { enabled: 1 } }, /^schedule\.enabled: /],
      [
        'schedule.cron',
        { schedule: { cron: '* *' } },
        /^schedule\.cron: expected a cron expression with 5 fields/,
      ],
      ['schedule.timezone', { schedule: { timezone: '' } }, /^schedule\.timezone: /],
      ['schedule.paused', { schedule: { paused: 'no' } }, /^schedule\.paused: /],
      ['maxAttemptsPerStep', { maxAttemptsPerStep: 0 }, /^maxAttemptsPerStep: /],
    ];
    for (const [name, patch, message] of cases) {
      it(name, () => {
        const input = patch === undefined ? undefined : { pipelineId: id, ...(patch as object) };
        const r = parseProvisionInput(input);
        assert.equal(r.ok, false);
        if (!r.ok) assert.match(r.reason, message);
      });
    }

    it('lists every invalid field, separated by ;', () => {
      const r = parseProvisionInput({ pipelineId: 'x', topics: { partitions: 0 } });
      assert.ok(!r.ok);
      assert.match(r.reason, /^pipelineId: .+; topics\.partitions: /);
    });
  });

  describe('mergeCorrection', () => {
    const base: ProvisionInput = {
      pipelineId: id,
      region: 'us-east-1',
      clientHost: {
        imageId: 'ami-0000dead',
        instanceType: 't3.micro',
        securityGroupIds: ['sg-1', 'sg-2'],
      },
      topics: { partitions: 3 },
    };
    const cases: Array<{ name: string; patch: unknown; expected: unknown }> = [
      { name: 'an empty patch changes nothing', patch: {}, expected: base },
      {
        name: 'objects merge key by key',
        patch: { clientHost: { imageId: 'ami-03c3da4cfa8e8943a' } },
        expected: {
          ...base,
          clientHost: { ...base.clientHost, imageId: 'ami-03c3da4cfa8e8943a' },
        },
      },
      {
        name: 'arrays replace, they do not concatenate',
        patch: { clientHost: { securityGroupIds: ['sg-9'] } },
        expected: { ...base, clientHost: { ...base.clientHost, securityGroupIds: ['sg-9'] } },
      },
      {
        name: 'scalars replace',
        patch: { region: 'eu-west-1' },
        expected: { ...base, region: 'eu-west-1' },
      },
      {
        name: 'new keys and objects are added',
        patch: { schedule: { enabled: false } },
        expected: { ...base, schedule: { enabled: false } },
      },
      {
        name: 'a scalar replaces an object, and an object a scalar',
        patch: { topics: 5, region: { x: 1 } },
        expected: { ...base, topics: 5, region: { x: 1 } },
      },
      {
        name: 'null replaces',
        patch: { clientHost: null },
        expected: { ...base, clientHost: null },
      },
    ];
    for (const c of cases) {
      it(c.name, () => assert.deepEqual(mergeCorrection(base, c.patch), c.expected));
    }

    it('leaves the base unchanged', () => {
      const before = structuredClone(base);
      mergeCorrection(base, { clientHost: { imageId: 'ami-1' }, topics: { partitions: 9 } });
      assert.deepEqual(base, before);
    });
  });
});
