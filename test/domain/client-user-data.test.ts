import assert from 'node:assert/strict';
import {
  CONFIG_FILE,
  clientUserData,
  type ClientUserDataInput,
} from '../../src/domain/client-user-data';

const base: ClientUserDataInput = {
  pipelineId: '0a1b2c3d4e5f',
  region: 'eu-west-1',
  kafkaBrokers: 'b-1.msk.example:9098,b-2.msk.example:9098',
  kafkaAuth: 'aws-msk-iam',
  apiTokenSecret: 'pinpipe/0a1b2c3d4e5f/api-token',
  appSource: 's3://user-0a1b2c3d4e5f-bucket/_pinpipe/app/pinpipe.tgz',
};

/** The lines of one systemd unit written by the script. */
function unit(script: string, name: string): string[] {
  const start = script.indexOf(`/etc/systemd/system/${name}.service <<'UNIT'`);
  assert.ok(start >= 0, `${name} unit written`);
  const body = script.slice(start).split('\n');
  return body.slice(1, body.indexOf('UNIT'));
}

describe('domain/client-user-data', () => {
  it('runs the API as the unprivileged pinpipe user, token fetched at start, not carried', () => {
    const script = clientUserData(base);
    const api = unit(script, 'pinpipe-api');
    assert.ok(api.includes('User=pinpipe') && api.includes('Group=pinpipe'));
    assert.ok(!api.some((l) => /^User=root$/.test(l)));
    assert.ok(api.includes('NoNewPrivileges=yes'));
    assert.ok(api.includes(`EnvironmentFile=${CONFIG_FILE}`));
    // The token is read by a script of its own: systemd would expand % and $ in an inline one.
    assert.ok(api.includes('ExecStartPre=/usr/local/libexec/pinpipe-fetch-token'));
    assert.ok(
      !api.some((l) => /[%$]/.test(l.replace(/^ExecStart=@NPM@/, ''))),
      'no % or $ in a unit',
    );
    const fetch = script.slice(
      script.indexOf("pinpipe-fetch-token <<'SCRIPT'"),
      script.indexOf('\nSCRIPT\n'),
    );
    assert.match(fetch, /umask 077/);
    assert.match(
      fetch,
      /aws secretsmanager get-secret-value .*--secret-id pinpipe\/0a1b2c3d4e5f\/api-token /,
    );
    // Written aside and renamed into place: the API and the worker may both be starting.
    assert.match(fetch, /tmp=\$\(mktemp \/run\/pinpipe\/secrets\.env\.XXXXXX\)/);
    assert.match(fetch, /printf 'PINPIPE_API_TOKEN=%s\\n' "\$token" >> "\$tmp"/);
    assert.match(fetch, /mv "\$tmp" \/run\/pinpipe\/secrets\.env$/);
    assert.doesNotMatch(fetch, /SIGNING_KEY/, 'no signing key secret given');
    assert.doesNotMatch(script, /PINPIPE_API_TOKEN=[A-Za-z0-9]/);
    assert.equal(script.includes('pinpipe-worker.service'), false, 'no worker without Temporal');
  });

  it('gives the API and the worker the signing key, each read at start, never carried', () => {
    const script = clientUserData({
      ...base,
      signingKeySecret: 'pinpipe/0a1b2c3d4e5f/signing-key',
      temporalAddress: 'temporal.internal:7233',
    });
    for (const name of ['pinpipe-api', 'pinpipe-worker']) {
      const lines = unit(script, name);
      assert.ok(lines.includes('ExecStartPre=/usr/local/libexec/pinpipe-fetch-token'), name);
      assert.ok(lines.includes('EnvironmentFile=-/run/pinpipe/secrets.env'), name);
      assert.ok(lines.includes('RuntimeDirectoryPreserve=yes'), name);
    }
    assert.match(
      script,
      /--secret-id pinpipe\/0a1b2c3d4e5f\/signing-key .*\nprintf 'PINPIPE_SIGNING_KEY=%s\\n' "\$key" >> "\$tmp"/,
    );
    assert.doesNotMatch(script, /PINPIPE_SIGNING_KEY=[A-Za-z0-9]/);
    // Without the key's secret the worker reads no secret at all.
    const unsigned = clientUserData({ ...base, temporalAddress: 'temporal.internal:7233' });
    assert.ok(!unit(unsigned, 'pinpipe-worker').some((l) => l.startsWith('ExecStartPre=')));
  });

  it('writes the whole config in one file only the service user reads', () => {
    const script = clientUserData({ ...base, temporalAddress: 'temporal.internal:7233' });
    assert.match(
      script,
      new RegExp(`install -o pinpipe -g pinpipe -m 0400 /dev/stdin ${CONFIG_FILE} <<'ENV'`),
    );
    const env = script.slice(script.indexOf("<<'ENV'") + 8, script.indexOf('\nENV\n')).split('\n');
    assert.deepEqual(env, [
      'PINPIPE_PIPELINE_ID=0a1b2c3d4e5f',
      'AWS_REGION=eu-west-1',
      'KAFKA_BROKERS=b-1.msk.example:9098,b-2.msk.example:9098',
      'KAFKA_SSL=true',
      'KAFKA_SASL_MECHANISM=aws-msk-iam',
      'PINPIPE_API_HOST=0.0.0.0',
      'PINPIPE_API_PORT=8082',
      'TEMPORAL_ADDRESS=temporal.internal:7233',
    ]);
    assert.ok(unit(script, 'pinpipe-worker').includes('User=pinpipe'));
    assert.match(script, /systemctl enable --now pinpipe-api pinpipe-worker\n/);
  });

  it('fetches the app from s3 or https, or says it is missing', () => {
    assert.ok(
      clientUserData(base).includes(
        "aws s3 cp 's3://user-0a1b2c3d4e5f-bucket/_pinpipe/app/pinpipe.tgz' /tmp/pinpipe.tgz",
      ),
    );
    const presigned = 'https://example.com/pinpipe.tgz?X-Amz-Signature=a%2Fb&X-Amz-Expires=3600';
    const https = clientUserData({ ...base, appSource: presigned });
    assert.ok(https.includes(`curl -fsSL '${presigned}' -o /tmp/pinpipe.tgz`), 'quoted');
    assert.match(clientUserData({ ...base, appSource: undefined }), /aws\.appSource is unset/);
  });

  const hostile: Array<[keyof ClientUserDataInput, string]> = [
    ['kafkaBrokers', "b:9098'; rm -rf / #"],
    ['region', 'eu-west-1\nPINPIPE_API_HOST=1'],
    ['apiTokenSecret', 'x$(id)'],
    ['signingKeySecret', 'k; curl evil'],
    ['appSource', 's3://b/k`id`'],
    ['appSource', "https://x/p.tgz?a='; id #"],
    ['temporalAddress', 'h:1 && curl evil'],
  ];
  for (const [field, value] of hostile) {
    it(`refuses ${field} that could break out of the script: ${JSON.stringify(value)}`, () => {
      assert.throws(
        () => clientUserData({ ...base, [field]: value }),
        new RegExp(`^Error: ${field}: `),
      );
    });
  }
});
