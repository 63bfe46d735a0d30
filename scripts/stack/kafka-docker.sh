#!/usr/bin/env bash
# The kafka service of docker-compose.yml: the apache/kafka image's own start script, plus what the
# image cannot do from environment variables, as scripts/stack.sh does it: the SCRAM credentials
# of the SASL_SSL listener's user. Also the service's health check.
# Usage: kafka-docker.sh          start the broker (the service's command)
#        kafka-docker.sh health   check both listeners (the service's healthcheck)
set -euo pipefail

bin=/opt/kafka/bin
user="${PINPIPE_KAFKA_SASL_USERNAME:?set in docker-compose.yml}"
password="${PINPIPE_KAFKA_SASL_PASSWORD:?set in docker-compose.yml}"

if [[ "${1:-}" == health ]]; then
  # Both listeners, as stack.sh checks them: PLAINTEXT, and SASL_SSL as the SCRAM-SHA-512 user over
  # TLS trusting only the stack's CA (its PEM, as a client gets it).
  props=/tmp/pinpipe-sasl-ssl-client.properties
  cat >"$props" <<EOF
security.protocol=SASL_SSL
ssl.truststore.type=PEM
ssl.truststore.location=/etc/kafka/secrets/ca.pem
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$user" password="$password";
EOF
  "$bin/kafka-broker-api-versions.sh" --bootstrap-server 127.0.0.1:9092 >/dev/null
  "$bin/kafka-broker-api-versions.sh" --bootstrap-server 127.0.0.1:9094 --command-config "$props" >/dev/null
  exit 0
fi

/etc/kafka/docker/run &
broker=$!
# `docker stop` signals this script (PID 1): pass it on so the broker shuts down cleanly.
trap 'kill -TERM "$broker" 2>/dev/null || true' TERM INT

# SCRAM credentials live in the cluster metadata, so they are written through the running broker:
# a new volume and an existing one alike, idempotently. One mechanism per call: a request that
# alters one user twice fails. In the background, so this shell waits on the broker and sees
# signals at once.
add_scram_user() {
  local mechanism
  for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
    until "$bin/kafka-configs.sh" --bootstrap-server 127.0.0.1:9092 --alter --entity-type users \
      --entity-name "$user" --add-config "$mechanism=[password=$password]"; do
      kill -0 "$broker" 2>/dev/null || return 1
      sleep 2
    done
  done
}
add_scram_user &

status=0
wait "$broker" || status=$?
# A signal interrupts `wait` (the trap has passed it on): wait again for the broker's own exit.
if kill -0 "$broker" 2>/dev/null; then wait "$broker" || status=$?; fi
exit "$status"
