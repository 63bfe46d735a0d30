import assert from 'node:assert/strict';
import {
  ChecklistRenderer,
  awsAccessLines,
  buildSettings,
  changedLines,
  checklistLine,
  checklistLines,
  parkedHint,
  outcomeCounts,
  parseSetValue,
  resourceRows,
  setPath,
} from '../../src/cli/provision-render';
import { awsNames } from '../../src/domain/aws-resources';
import {
  AWS_ONLY_STEPS,
  PROVISION_STEPS,
  initialSteps,
  type StepState,
} from '../../src/domain/provision-steps';

const step = (over: Partial<StepState>): StepState => ({
  ...initialSteps(5).find((s) => s.step === 'client-host')!,
  ...over,
});

describe('cli/provision-render', () => {
  describe('parseSetValue', () => {
    const cases: Array<[string, unknown]> = [
      ['ami-03c3da4cfa8e8943a', 'ami-03c3da4cfa8e8943a'],
      ['4', 4],
      ['true', true],
      ['null', null],
      ['["sg-1","sg-2"]', ['sg-1', 'sg-2']],
      ['{"a":1}', { a: 1 }],
      ['0 2 * * *', '0 2 * * *'],
      ['', ''],
      ['"quoted"', 'quoted'],
    ];
    for (const [text, value] of cases) {
      it(`${JSON.stringify(text)} → ${JSON.stringify(value)}`, () =>
        assert.deepEqual(parseSetValue(text), value));
    }
  });

  describe('buildSettings', () => {
    const cases: Array<{ name: string; pairs: string[]; json?: string; expected: object }> = [
      { name: 'nothing', pairs: [], expected: {} },
      {
        name: 'one nested path',
        pairs: ['clientHost.imageId=ami-03c3da4cfa8e8943a'],
        expected: { clientHost: { imageId: 'ami-03c3da4cfa8e8943a' } },
      },
      {
        name: 'siblings share their parent; values parse as JSON',
        pairs: ['topics.partitions=4', 'topics.retentionMs=3600000', 'maxAttemptsPerStep=2'],
        expected: { topics: { partitions: 4, retentionMs: 3600000 }, maxAttemptsPerStep: 2 },
      },
      {
        name: 'a value may contain =',
        pairs: ['endpoint.url=http://h:1/?a=b'],
        expected: { endpoint: { url: 'http://h:1/?a=b' } },
      },
      {
        name: '--set applies on top of --settings, which merges',
        pairs: ['clientHost.imageId=ami-1'],
        json: '{"clientHost":{"imageId":"ami-0","instanceType":"t3.small"},"region":"eu-west-1"}',
        expected: {
          clientHost: { imageId: 'ami-1', instanceType: 't3.small' },
          region: 'eu-west-1',
        },
      },
      { name: 'the last of two same paths wins', pairs: ['a=1', 'a=2'], expected: { a: 2 } },
    ];
    for (const c of cases) {
      it(c.name, () => assert.deepEqual(buildSettings(c.pairs, c.json), c.expected));
    }

    const errors: Array<{ pairs: string[]; json?: string; message: RegExp }> = [
      { pairs: ['noequals'], message: /--set noequals: expected key\.path=value/ },
      { pairs: ['=x'], message: /expected key\.path=value/ },
      { pairs: ['a..b=1'], message: /a\.\.b: expected a dot path/ },
      { pairs: ['a=1', 'a.b=2'], message: /a\.b: a is already set to a non-object/ },
      { pairs: ['__proto__.x=1'], message: /key not allowed/ },
      { pairs: [], json: '{nope', message: /--settings: not JSON/ },
      { pairs: [], json: '[1]', message: /--settings: expected a JSON object/ },
    ];
    for (const e of errors) {
      it(`rejects ${JSON.stringify(e.pairs)} ${e.json ?? ''}`, () =>
        assert.throws(() => buildSettings(e.pairs, e.json), e.message));
    }

    it('setPath keeps the siblings of an object on its path', () => {
      const target = { x: { keep: true }, other: 1 };
      setPath(target, 'x.y.z', 1);
      assert.deepEqual(target, { x: { keep: true, y: { z: 1 } }, other: 1 });
    });
  });

  describe('checklistLine', () => {
    const cases: Array<[Partial<StepState>, RegExp]> = [
      [{}, /^\[ \] Ensure EC2 client host +pending$/],
      [{ status: 'running', attempt: 1 }, /^\[~\] Ensure EC2 client host +running +1\/5$/],
      [
        { status: 'running', attempt: 2, error: 'moto down' },
        /^\[~\] .+ running +2\/5 +retrying: moto down$/,
      ],
      [
        { status: 'done', attempt: 1, summary: 'i-1 created' },
        /^\[x\] .+ done +1\/5 +i-1 created$/,
      ],
      [
        { status: 'awaiting-correction', attempt: 1, error: 'AMI ami-0 does not exist\nat all' },
        /^\[\?\] .+ awaiting-correction +1\/5 +error: AMI ami-0 does not exist at all$/,
      ],
      [{ status: 'failed', attempt: 3 }, /^\[!\] .+ failed +3\/5 +error: failed$/],
      [{ status: 'skipped', summary: 'schedule.enabled is false' }, /^\[-\] .+ skipped +schedule/],
      [{ status: 'undone', attempt: 1, summary: 'gone' }, /^\[u\] .+ undone +1\/5 +gone$/],
    ];
    for (const [over, pattern] of cases) {
      it(`${over.status ?? 'pending'}${over.error ? ' with error' : ''}`, () =>
        assert.match(checklistLine(step(over)), pattern));
    }

    // What `provision status` shows during the durable wait for an MSK cluster.
    const waiting: Partial<StepState> = {
      step: 'kafka-cluster',
      title: 'Ensure Kafka cluster (MSK)',
      status: 'running',
      attempt: 1,
      summary: 'pinpipe-0a1b2c3d4e5f CREATING for 12 min (looked every 30 s)',
    };

    it("a running step's summary: the cluster's state and the time waited", () =>
      assert.match(
        checklistLine(step(waiting)),
        /^\[~\] Ensure Kafka cluster \(MSK\) +running +1\/5 +pinpipe-0a1b2c3d4e5f CREATING for 12 min \(looked every 30 s\)$/,
      ));

    it('a running step that failed an attempt keeps its summary in front of the error', () =>
      assert.match(
        checklistLine(step({ ...waiting, attempt: 2, error: 'throttled' })),
        /running +2\/5 +pinpipe-0a1b2c3d4e5f CREATING for 12 min \(looked every 30 s\); retrying: throttled$/,
      ));

    it('aligns the status column across steps', () => {
      const lines = checklistLines({
        pipelineId: '0a1b2c3d4e5f',
        mode: 'apply',
        status: 'running',
        steps: initialSteps(5),
      });
      assert.equal(lines[0], 'Provisioning of pipeline 0a1b2c3d4e5f: running');
      assert.equal(lines.length, PROVISION_STEPS.length + 1);
      assert.equal(new Set(lines.slice(1).map((l) => l.indexOf('pending'))).size, 1);
    });
  });

  describe('changedLines and the renderer', () => {
    const cases: Array<[string[], string[], string[]]> = [
      [[], ['a', 'b'], ['a', 'b']],
      [['a', 'b'], ['a', 'b'], []],
      [['a', 'b'], ['a', 'c'], ['c']],
      [['a'], ['a', 'b'], ['b']],
    ];
    for (const [before, after, changed] of cases) {
      it(`${JSON.stringify(before)} → ${JSON.stringify(after)} prints ${JSON.stringify(changed)}`, () =>
        assert.deepEqual(changedLines(before, after), changed));
    }

    it('off a terminal prints only the lines that changed', () => {
      let out = '';
      const r = new ChecklistRenderer({ isTTY: false, write: (t) => (out += t) });
      r.update(['head', 'one']);
      r.update(['head', 'one']);
      r.update(['head', 'two']);
      assert.equal(out, 'head\none\ntwo\n');
    });

    it('on a terminal redraws in place, cut to the width, and skips identical frames', () => {
      let out = '';
      const r = new ChecklistRenderer({ isTTY: true, columns: 30, write: (t) => (out += t) });
      r.update(['head', 'x'.repeat(40)]);
      assert.equal(out, `head\n${'x'.repeat(28)}…\n`);
      out = '';
      r.update(['head', 'x'.repeat(40)]);
      assert.equal(out, '');
      r.update(['done']);
      assert.equal(out, '\x1b[2A\r\x1b[Jdone\n');
    });
  });

  describe('parkedHint', () => {
    it('names the step, the error and the commands, with a --set for the likely field', () => {
      const steps = initialSteps(5);
      steps[steps.findIndex((s) => s.step === 'client-host')] = step({
        status: 'awaiting-correction',
        attempt: 1,
        error: 'AMI ami-0000dead does not exist in this region',
      });
      const text = parkedHint({
        pipelineId: '0a1b2c3d4e5f',
        mode: 'apply',
        status: 'awaiting-correction',
        currentStep: 'client-host',
        steps,
      }).join('\n');
      assert.match(
        text,
        /parked at step client-host \(Ensure EC2 client host\) after attempt 1\/5/,
      );
      assert.match(text, /AMI ami-0000dead does not exist/);
      assert.match(
        text,
        /pinpipe provision retry --pipeline 0a1b2c3d4e5f --set clientHost\.imageId=ami-…/,
      );
      assert.match(text, /pinpipe provision abort --pipeline 0a1b2c3d4e5f/);
    });

    const examples: Array<[StepState['step'], string, RegExp]> = [
      ['client-host', 'subnet subnet-0nothere not found', /--set clientHost\.subnetId=subnet-…/],
      ['endpoint', 'did not answer', /--set endpoint\.url=http/],
      ['schedule', 'bad cron', /--set schedule\.cron=/],
    ];
    for (const [name, error, pattern] of examples) {
      it(`suggests ${String(pattern)} for ${name}: ${error}`, () => {
        const steps = initialSteps(2).map((s) =>
          s.step === name ? { ...s, status: 'awaiting-correction' as const, error } : s,
        );
        const p = { pipelineId: 'x', mode: 'apply' as const, status: 'awaiting-correction' };
        assert.match(parkedHint({ ...p, currentStep: name, steps }).join('\n'), pattern);
      });
    }
  });

  it('resourceRows: one row per resource, with its step', () => {
    const steps = initialSteps(5);
    const at = (name: string) => steps.find((s) => s.step === name)!;
    at('bucket').resources = [{ kind: 'bucket', id: 'b', outcome: 'exists', detail: 'SSE\non' }];
    at('topics').resources = [{ kind: 'topic', id: 't.pin', outcome: 'create' }];
    assert.deepEqual(resourceRows(steps), [
      { step: 'bucket', kind: 'bucket', resource: 'b', outcome: 'exists', detail: 'SSE on' },
      { step: 'topics', kind: 'topic', resource: 't.pin', outcome: 'create', detail: '' },
    ]);
  });

  describe('outcomeCounts', () => {
    const cases: Array<[string[], string]> = [
      [[], 'no resources'],
      [['exists'], '1 exists'],
      [['created', 'exists', 'created', 'updated'], '2 created, 1 exists, 1 updated'],
      [['create', 'differs', 'create'], '2 create, 1 differs'],
    ];
    for (const [outcomes, text] of cases) {
      it(`${outcomes.join(',') || '(none)'} → ${text}`, () =>
        assert.equal(outcomeCounts(outcomes.map((outcome) => ({ outcome }))), text));
    }
  });

  describe('awsAccessLines', () => {
    const pipelineId = '0a1b2c3d4e5f';
    const names = awsNames(pipelineId);
    const url = 'https://abc123.execute-api.eu-west-1.amazonaws.com/v1';
    const awsRun = (over: { mode?: 'apply' | 'plan'; status?: string } = {}) => {
      const steps: StepState[] = initialSteps(5).map((s) => ({ ...s, status: 'done', attempt: 1 }));
      steps.find((s) => s.step === 'api-gateway')!.resources = [
        {
          kind: 'rest-api',
          id: 'abc123',
          outcome: 'exists',
          detail: `${url} → http://1.2.3.4:8082`,
        },
      ];
      return {
        pipelineId,
        mode: over.mode ?? ('apply' as const),
        status: over.status ?? 'completed',
        steps,
        inventory: { region: 'eu-west-1' },
      };
    };

    it('a completed aws run: the key and token commands (secret names of awsNames) and the URL', () => {
      const text = awsAccessLines(awsRun()).join('\n');
      assert.ok(
        text.includes(
          `(umask 077 && aws secretsmanager get-secret-value --region eu-west-1 --secret-id ${names.sshKeySecret} --query SecretString --output text > ${names.keyPair}.pem)`,
        ),
        text,
      );
      assert.ok(
        text.includes(
          `aws secretsmanager get-secret-value --region eu-west-1 --secret-id ${names.apiTokenSecret} --query SecretString --output text`,
        ),
        text,
      );
      assert.match(text, new RegExp(`Invoke URL \\(API Gateway\\): ${url}$`, 'm'));
    });

    it('without API Gateway: no URL line', () => {
      const r = awsRun();
      const gw = r.steps.find((s) => s.step === 'api-gateway')!;
      Object.assign(gw, { status: 'skipped', resources: [] });
      const text = awsAccessLines(r).join('\n');
      assert.doesNotMatch(text, /Invoke URL/);
      assert.match(text, /ssh-private-key/);
    });

    it('nothing for a plan, an unfinished run or the local target', () => {
      assert.deepEqual(awsAccessLines(awsRun({ mode: 'plan', status: 'planned' })), []);
      assert.deepEqual(awsAccessLines(awsRun({ status: 'aborted' })), []);
      const local = awsRun();
      for (const s of local.steps) if (AWS_ONLY_STEPS.has(s.step)) s.status = 'skipped';
      assert.deepEqual(awsAccessLines(local), []);
    });
  });
});
