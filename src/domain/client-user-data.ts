/**
 * The EC2 client host's default cloud-init script: installs Node.js 20 and runs the ingest API
 * (REST Proxy v2 on :8082) as a systemd service. The application is expected under
 * /opt/pinpipe (baked into the AMI or copied there by your own bootstrap); the script says so
 * in the instance's console output when it is missing instead of failing silently. The API
 * listens on 0.0.0.0, so it refuses to start without PINPIPE_API_TOKEN: the token goes in
 * /etc/pinpipe-secrets.env (root-only), which this script does not write (no secret may pass
 * through user data, which the EC2 API shows to anyone allowed to describe the instance).
 */
export function defaultClientUserData(opts: { pipelineId: string; kafkaBrokers: string }): string {
  return `#!/bin/bash
set -euo pipefail
exec > >(tee /var/log/pinpipe-bootstrap.log) 2>&1
dnf install -y nodejs20 git || yum install -y nodejs git
cat > /etc/pinpipe.env <<'ENV'
PINPIPE_PIPELINE_ID=${opts.pipelineId}
KAFKA_BROKERS=${opts.kafkaBrokers}
PINPIPE_API_HOST=0.0.0.0
PINPIPE_API_PORT=8082
ENV
cat > /etc/systemd/system/pinpipe-api.service <<'UNIT'
[Unit]
Description=pinpipe ingest API (Kafka REST Proxy v2 compatible)
After=network-online.target
[Service]
EnvironmentFile=/etc/pinpipe.env
EnvironmentFile=-/etc/pinpipe-secrets.env
WorkingDirectory=/opt/pinpipe
ExecStart=/usr/bin/npm run api
Restart=always
[Install]
WantedBy=multi-user.target
UNIT
if [ ! -f /opt/pinpipe/package.json ]; then
  echo "pinpipe: /opt/pinpipe has no application; copy the project there and run: systemctl start pinpipe-api"
  exit 0
fi
if ! grep -q '^PINPIPE_API_TOKEN=' /etc/pinpipe-secrets.env 2>/dev/null; then
  echo "pinpipe: the API listens on 0.0.0.0 and needs PINPIPE_API_TOKEN=<token> in /etc/pinpipe-secrets.env (chmod 600); then: systemctl start pinpipe-api"
fi
(cd /opt/pinpipe && npm ci --omit=dev)
systemctl daemon-reload
systemctl enable --now pinpipe-api
`;
}
