/**
 * The EC2 client host's cloud-init script (DESIGN 5). It installs Node.js 20 and the AWS CLI,
 * creates the unprivileged `pinpipe` user, writes the whole configuration in one file only that
 * user can read, fetches the application when the AMI does not hold it, and runs the ingest API
 * (and, given a Temporal address, the worker) as systemd services of that user.
 *
 * No secret passes through user data, which the EC2 API shows to anyone allowed to describe the
 * instance: the API token and the record signing key are read from Secrets Manager by the
 * services themselves, with the instance profile's credentials, each time they start (into a
 * runtime file only the service user can read).
 */

export interface ClientUserDataInput {
  pipelineId: string;
  region: string;
  kafkaBrokers: string;
  /** `aws-msk-iam` on MSK (TLS + IAM); `none` for brokers brought as they are. */
  kafkaAuth: 'aws-msk-iam' | 'none';
  /** The Secrets Manager secret holding the API token; absent: the API refuses to start. */
  apiTokenSecret?: string;
  /**
   * The secret holding PINPIPE_SIGNING_KEY, read by the API (it signs the records it validated)
   * and the worker (its sink writes them without validating again); absent: nothing is signed.
   */
  signingKeySecret?: string;
  /** `s3://…` or `https://…` of an `npm pack` tarball; absent: /opt/pinpipe must be in the AMI. */
  appSource?: string;
  /** host:port of Temporal for the worker service; absent: no worker on the host. */
  temporalAddress?: string;
  /** The host worker's task queue (where the pipeline's ingestion runs). */
  taskQueue?: string;
}

export const SERVICE_USER = 'pinpipe';
export const CONFIG_FILE = '/etc/pinpipe/pinpipe.env';
const SECRETS_FILE = '/run/pinpipe/secrets.env';

/**
 * Values go into here-docs, env files and command lines: anything that could break out (quotes,
 * spaces, `$`, backticks, newlines) is refused. `extra` widens the set for one field (a presigned
 * app URL needs `?&%=~`, and is single-quoted where it is used).
 */
function safe(name: string, value: string, extra = ''): string {
  const allowed = new RegExp(`^[\\w.:/,@+=${extra.replace(/[\]\\^-]/g, '\\$&')}-]*$`);
  if (!allowed.test(value)) {
    throw new Error(`${name}: ${JSON.stringify(value)} has characters user data cannot carry`);
  }
  return value;
}

function configLines(o: ClientUserDataInput): string[] {
  return [
    `PINPIPE_PIPELINE_ID=${safe('pipelineId', o.pipelineId)}`,
    `AWS_REGION=${safe('region', o.region)}`,
    `KAFKA_BROKERS=${safe('kafkaBrokers', o.kafkaBrokers)}`,
    ...(o.kafkaAuth === 'aws-msk-iam'
      ? ['KAFKA_SSL=true', 'KAFKA_SASL_MECHANISM=aws-msk-iam']
      : []),
    'PINPIPE_API_HOST=0.0.0.0',
    'PINPIPE_API_PORT=8082',
    ...(o.temporalAddress
      ? [`TEMPORAL_ADDRESS=${safe('temporalAddress', o.temporalAddress)}`]
      : []),
    ...(o.temporalAddress && o.taskQueue
      ? [`TEMPORAL_TASK_QUEUE=${safe('taskQueue', o.taskQueue)}`]
      : []),
    // The bucket is user-<id>-bucket, derived from the pipeline id by every process.
  ];
}

/**
 * Reads the API token and the signing key at each start, as the service user, into a file only
 * it can read (written aside and renamed: the API and the worker may both be starting).
 */
const TOKEN_SCRIPT = '/usr/local/libexec/pinpipe-fetch-token';

function secretsScript(o: ClientUserDataInput): string {
  const read = (field: 'apiTokenSecret' | 'signingKeySecret', secret: string) =>
    `$(aws secretsmanager get-secret-value --region "$AWS_REGION" --secret-id ${safe(field, secret)} --query SecretString --output text)`;
  const lines = [
    ...(o.apiTokenSecret
      ? [
          `token=${read('apiTokenSecret', o.apiTokenSecret)}`,
          `printf 'PINPIPE_API_TOKEN=%s\\n' "$token" >> "$tmp"`,
        ]
      : []),
    ...(o.signingKeySecret
      ? [
          `key=${read('signingKeySecret', o.signingKeySecret)}`,
          `printf 'PINPIPE_SIGNING_KEY=%s\\n' "$key" >> "$tmp"`,
        ]
      : []),
  ];
  // A script of its own, not an inline ExecStartPre: systemd would expand `%` and `$` in it.
  return `#!/bin/sh
set -eu
umask 077
tmp=$(mktemp ${SECRETS_FILE}.XXXXXX)
${lines.join('\n')}
mv "$tmp" ${SECRETS_FILE}
`;
}

function unit(description: string, script: string, fetchesSecrets: boolean): string {
  const fetchSecrets = fetchesSecrets
    ? [`ExecStartPre=${TOKEN_SCRIPT}`, `EnvironmentFile=-${SECRETS_FILE}`]
    : [];
  return [
    '[Unit]',
    `Description=${description}`,
    'After=network-online.target',
    'Wants=network-online.target',
    '[Service]',
    `User=${SERVICE_USER}`,
    `Group=${SERVICE_USER}`,
    `EnvironmentFile=${CONFIG_FILE}`,
    // npm keeps its cache under HOME; the app dir is the one place the service may write.
    'Environment=HOME=/opt/pinpipe',
    'RuntimeDirectory=pinpipe',
    'RuntimeDirectoryMode=0700',
    // The API and the worker share it: one stopping must not take the other's secrets file.
    'RuntimeDirectoryPreserve=yes',
    ...fetchSecrets,
    'WorkingDirectory=/opt/pinpipe',
    // @NPM@: the npm binary found at boot (AL2023 names it npm or npm-20).
    `ExecStart=@NPM@ run ${script}`,
    'Restart=always',
    'RestartSec=5',
    'NoNewPrivileges=yes',
    'PrivateTmp=yes',
    'ProtectSystem=strict',
    'ReadWritePaths=/opt/pinpipe',
    'ProtectHome=yes',
    '[Install]',
    'WantedBy=multi-user.target',
  ].join('\n');
}

function fetchApp(source: string | undefined): string {
  if (source === undefined) {
    return `echo "pinpipe: /opt/pinpipe has no application and aws.appSource is unset; copy an npm pack tarball there, then: systemctl start pinpipe-api"; exit 0`;
  }
  const url = safe('appSource', source, '?&%=~');
  const get = url.startsWith('s3://')
    ? `aws s3 cp '${url}' /tmp/pinpipe.tgz`
    : `curl -fsSL '${url}' -o /tmp/pinpipe.tgz`;
  // The tarball may be uploaded after the host boots (adopted cluster, bucket made minutes ago):
  // wait for it, up to an hour, rather than give up at once.
  return [
    `for try in $(seq 1 120); do ${get} && break; echo "pinpipe: waiting for ${url} ($try/120)"; sleep 30; done`,
    `tar xzf /tmp/pinpipe.tgz -C /opt/pinpipe --strip-components=1`,
    'rm -f /tmp/pinpipe.tgz',
  ].join('\n  ');
}

export function clientUserData(o: ClientUserDataInput): string {
  const services = ['pinpipe-api', ...(o.temporalAddress ? ['pinpipe-worker'] : [])];
  const units = [
    [
      'pinpipe-api',
      unit(
        'pinpipe ingest API (Kafka REST Proxy v2 compatible)',
        'api',
        o.apiTokenSecret !== undefined || o.signingKeySecret !== undefined,
      ),
    ],
    ...(o.temporalAddress
      ? [
          [
            'pinpipe-worker',
            unit('pinpipe Temporal worker', 'worker', o.signingKeySecret !== undefined),
          ],
        ]
      : []),
  ];
  return `#!/bin/bash
set -euo pipefail
exec > >(tee /var/log/pinpipe-bootstrap.log) 2>&1
dnf install -y nodejs20 nodejs20-npm awscli-2 tar || yum install -y nodejs npm awscli tar
NPM="$(command -v npm || command -v npm-20)"
id ${SERVICE_USER} >/dev/null 2>&1 || useradd --system --home-dir /opt/pinpipe --shell /sbin/nologin ${SERVICE_USER}
install -d -o ${SERVICE_USER} -g ${SERVICE_USER} -m 0750 /opt/pinpipe
install -d -o root -g ${SERVICE_USER} -m 0750 /etc/pinpipe
# The whole configuration, in one file only the service user can read.
install -o ${SERVICE_USER} -g ${SERVICE_USER} -m 0400 /dev/stdin ${CONFIG_FILE} <<'ENV'
${configLines(o).join('\n')}
ENV
${
  o.apiTokenSecret || o.signingKeySecret
    ? `install -d -m 0755 /usr/local/libexec
install -o root -g root -m 0755 /dev/stdin ${TOKEN_SCRIPT} <<'SCRIPT'
${secretsScript(o)}SCRIPT
`
    : ''
}${units
    .map(
      ([name, text]) => `cat > /etc/systemd/system/${name}.service <<'UNIT'
${text}
UNIT
sed -i "s|@NPM@|$NPM|" /etc/systemd/system/${name}.service
`,
    )
    .join('')}if [ ! -f /opt/pinpipe/package.json ]; then
  ${fetchApp(o.appSource)}
fi
chown -R ${SERVICE_USER}:${SERVICE_USER} /opt/pinpipe
# npm pack leaves the lockfile out: npm ci where there is one, npm install where there is not.
if [ -f /opt/pinpipe/package-lock.json ]; then ci=ci; else ci=install; fi
(cd /opt/pinpipe && runuser -u ${SERVICE_USER} -- env HOME=/opt/pinpipe "$NPM" "$ci" --omit=dev)
systemctl daemon-reload
systemctl enable --now ${services.join(' ')}
`;
}
