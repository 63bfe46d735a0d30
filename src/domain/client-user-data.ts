/**
 * The EC2 client host's cloud-init script (DESIGN 5). It installs Node.js 20 and the AWS CLI,
 * creates the unprivileged `pinpipe` user, writes the whole configuration in one file only that
 * user can read, fetches the application when the AMI does not hold it, and runs the ingest API
 * (and, given a Temporal address, the worker) as systemd services of that user.
 *
 * No secret passes through user data, which the EC2 API shows to anyone allowed to describe the
 * instance: the API token is read from Secrets Manager by the service itself, with the
 * instance profile's credentials, each time it starts (into a runtime file only it can read).
 */

export interface ClientUserDataInput {
  pipelineId: string;
  region: string;
  kafkaBrokers: string;
  /** `aws-msk-iam` on MSK (TLS + IAM); `none` for brokers brought as they are. */
  kafkaAuth: 'aws-msk-iam' | 'none';
  /** The Secrets Manager secret holding the API token; absent: the API refuses to start. */
  apiTokenSecret?: string;
  /** `s3://…` or `https://…` of an `npm pack` tarball; absent: /opt/pinpipe must be in the AMI. */
  appSource?: string;
  /** host:port of Temporal for the worker service; absent: no worker on the host. */
  temporalAddress?: string;
}

export const SERVICE_USER = 'pinpipe';
export const CONFIG_FILE = '/etc/pinpipe/pinpipe.env';
const SECRETS_FILE = '/run/pinpipe/secrets.env';

/** Values go in single-quoted shell here-docs and env files: refuse anything that could break out. */
function safe(name: string, value: string): string {
  if (!/^[\w.:/,@+=-]*$/.test(value)) {
    throw new Error(`${name}: ${JSON.stringify(value)} has characters user data cannot carry`);
  }
  return value;
}

function configLines(o: ClientUserDataInput): string[] {
  return [
    `PINPIPE_PIPELINE_ID=${safe('pipelineId', o.pipelineId)}`,
    `AWS_REGION=${safe('region', o.region)}`,
    `KAFKA_BROKERS=${safe('kafkaBrokers', o.kafkaBrokers)}`,
    ...(o.kafkaAuth === 'aws-msk-iam' ? ['KAFKA_SSL=true', 'KAFKA_SASL_MECHANISM=aws-msk-iam'] : []),
    'PINPIPE_API_HOST=0.0.0.0',
    'PINPIPE_API_PORT=8082',
    ...(o.temporalAddress ? [`TEMPORAL_ADDRESS=${safe('temporalAddress', o.temporalAddress)}`] : []),
    // The bucket is user-<id>-bucket, derived from the pipeline id by every process.
  ];
}

function unit(description: string, script: string, tokenSecret: string | undefined): string {
  const fetchToken = tokenSecret
    ? [
        // As the service user, with the instance profile's credentials: never in user data.
        `ExecStartPre=/bin/sh -c 'umask 077; printf "PINPIPE_API_TOKEN=%s\\\\n" "$(aws secretsmanager get-secret-value --region "$AWS_REGION" --secret-id ${safe('apiTokenSecret', tokenSecret)} --query SecretString --output text)" > ${SECRETS_FILE}'`,
        `EnvironmentFile=-${SECRETS_FILE}`,
      ]
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
    'RuntimeDirectory=pinpipe',
    'RuntimeDirectoryMode=0700',
    ...fetchToken,
    'WorkingDirectory=/opt/pinpipe',
    `ExecStart=/usr/bin/npm run ${script}`,
    'Restart=always',
    'RestartSec=5',
    'NoNewPrivileges=yes',
    'PrivateTmp=yes',
    'ProtectSystem=strict',
    'ProtectHome=yes',
    '[Install]',
    'WantedBy=multi-user.target',
  ].join('\n');
}

function fetchApp(source: string | undefined): string {
  if (source === undefined) {
    return `echo "pinpipe: /opt/pinpipe has no application and aws.appSource is unset; copy an npm pack tarball there, then: systemctl start pinpipe-api"; exit 0`;
  }
  const get = source.startsWith('s3://')
    ? `aws s3 cp ${safe('appSource', source)} /tmp/pinpipe.tgz`
    : `curl -fsSL ${safe('appSource', source)} -o /tmp/pinpipe.tgz`;
  return [get, `tar xzf /tmp/pinpipe.tgz -C /opt/pinpipe --strip-components=1`, 'rm -f /tmp/pinpipe.tgz'].join(
    '\n  ',
  );
}

export function clientUserData(o: ClientUserDataInput): string {
  const services = ['pinpipe-api', ...(o.temporalAddress ? ['pinpipe-worker'] : [])];
  return `#!/bin/bash
set -euo pipefail
exec > >(tee /var/log/pinpipe-bootstrap.log) 2>&1
dnf install -y nodejs20 awscli-2 tar || yum install -y nodejs awscli tar
id ${SERVICE_USER} >/dev/null 2>&1 || useradd --system --home-dir /opt/pinpipe --shell /sbin/nologin ${SERVICE_USER}
install -d -o ${SERVICE_USER} -g ${SERVICE_USER} -m 0750 /opt/pinpipe
install -d -o root -g ${SERVICE_USER} -m 0750 /etc/pinpipe
# The whole configuration, in one file only the service user can read.
install -o ${SERVICE_USER} -g ${SERVICE_USER} -m 0400 /dev/stdin ${CONFIG_FILE} <<'ENV'
${configLines(o).join('\n')}
ENV
cat > /etc/systemd/system/pinpipe-api.service <<'UNIT'
${unit('pinpipe ingest API (Kafka REST Proxy v2 compatible)', 'api', o.apiTokenSecret)}
UNIT
${
  o.temporalAddress
    ? `cat > /etc/systemd/system/pinpipe-worker.service <<'UNIT'
${unit('pinpipe Temporal worker', 'worker', undefined)}
UNIT
`
    : ''
}if [ ! -f /opt/pinpipe/package.json ]; then
  ${fetchApp(o.appSource)}
fi
chown -R ${SERVICE_USER}:${SERVICE_USER} /opt/pinpipe
(cd /opt/pinpipe && runuser -u ${SERVICE_USER} -- npm ci --omit=dev)
systemctl daemon-reload
systemctl enable --now ${services.join(' ')}
`;
}
