#!/usr/bin/env bash
# TLS material for Kafka's SASL_SSL listener, generated once into <dir> and kept while it is whole:
#   ca.pem              the CA certificate that clients trust (stack.sh env: PINPIPE_KAFKA_CA_FILE)
#   broker.p12          the broker's key and certificate for 127.0.0.1 and localhost, signed by it
#   keystore.password   broker.p12's password (the apache/kafka image reads it from a file)
# openssl where there is one, else the JDK's keytool (all the apache/kafka image has).
# - The broker gets a PKCS12 keystore, not PEM: keytool cannot write a private key as PEM, and one
#   format lets stack.sh and docker-compose.yml configure the broker the same way.
# - The CA's private key is deleted once the broker certificate is signed: nothing else needs it,
#   so this CA can never vouch for anything but this one broker.
# - Every file is world-readable: in docker-compose.yml a root init container writes them and the
#   image's unprivileged broker reads them. It is a local dev broker behind a fixed password.
# Usage: kafka-certs.sh <dir> [--keytool]   (--keytool: skip openssl, to test that path)
set -euo pipefail

dir="${1:?usage: kafka-certs.sh <dir> [--keytool]}"
tool=openssl
if [[ "${2:-}" == --keytool ]] || ! command -v openssl >/dev/null; then tool=keytool; fi
# A fixed dev password: the keystore only holds this local broker's key.
password=pinpipe-keystore
days=3650
files=(ca.pem broker.p12 keystore.password)

whole() { local f; for f in "${files[@]}"; do [[ -s "$dir/$f" ]] || return 1; done; }
whole && exit 0

command -v "$tool" >/dev/null || { echo "kafka-certs: neither openssl nor keytool found (a JDK has keytool)" >&2; exit 1; }
mkdir -p "$dir"
# Built beside the final files (same filesystem, so each mv is a rename), then moved in one by one:
# in Docker <dir> is a mount point, which cannot itself be replaced.
tmp="$(mktemp -d "$dir/.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

with_openssl() {
  # The config file is given in full so no system openssl.cnf section adds a second copy of an
  # extension set here (OpenSSL 3 refuses duplicates).
  cat >"$tmp/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = pinpipe local Kafka CA
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[broker]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  openssl req -config "$tmp/openssl.cnf" -x509 -extensions ca -newkey rsa:2048 -nodes \
    -keyout "$tmp/ca.key" -out "$tmp/ca.pem" -days "$days" 2>/dev/null
  openssl req -config "$tmp/openssl.cnf" -new -newkey rsa:2048 -nodes -subj /CN=localhost \
    -keyout "$tmp/broker.key" -out "$tmp/broker.csr" 2>/dev/null
  openssl x509 -req -in "$tmp/broker.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$days" \
    -extfile "$tmp/openssl.cnf" -extensions broker -out "$tmp/broker.pem" 2>/dev/null
  openssl pkcs12 -export -name broker -inkey "$tmp/broker.key" -in "$tmp/broker.pem" \
    -certfile "$tmp/ca.pem" -passout "pass:$password" -out "$tmp/broker.p12"
}

with_keytool() {
  local kt=(keytool -noprompt -storetype PKCS12 -storepass "$password")
  "${kt[@]}" -genkeypair -keystore "$tmp/ca.p12" -alias ca -keyalg RSA -keysize 2048 \
    -dname "CN=pinpipe local Kafka CA" -validity "$days" -ext bc:c -ext KU:c=keyCertSign,cRLSign
  "${kt[@]}" -exportcert -rfc -keystore "$tmp/ca.p12" -alias ca -file "$tmp/ca.pem"
  "${kt[@]}" -genkeypair -keystore "$tmp/broker.p12" -alias broker -keyalg RSA -keysize 2048 \
    -dname CN=localhost -validity "$days"
  "${kt[@]}" -certreq -keystore "$tmp/broker.p12" -alias broker -file "$tmp/broker.csr"
  "${kt[@]}" -gencert -keystore "$tmp/ca.p12" -alias ca -infile "$tmp/broker.csr" \
    -outfile "$tmp/broker.pem" -rfc -validity "$days" -ext SAN=ip:127.0.0.1,dns:localhost \
    -ext EKU=serverAuth -ext KU:c=digitalSignature,keyEncipherment
  # keytool accepts the signed certificate only once it can build its chain up to a trusted CA;
  # the CA entry is dropped again afterwards (the key entry keeps the whole chain).
  "${kt[@]}" -importcert -keystore "$tmp/broker.p12" -alias ca -file "$tmp/ca.pem" 2>/dev/null
  "${kt[@]}" -importcert -keystore "$tmp/broker.p12" -alias broker -file "$tmp/broker.pem" 2>/dev/null
  "${kt[@]}" -delete -keystore "$tmp/broker.p12" -alias ca
}

"with_$tool" >&2
printf '%s' "$password" >"$tmp/keystore.password"
chmod 0644 "$tmp/ca.pem" "$tmp/broker.p12" "$tmp/keystore.password"
# ca.pem last: a reader that finds it finds the broker keystore it signed.
for f in keystore.password broker.p12 ca.pem; do mv -f "$tmp/$f" "$dir/$f"; done
echo "kafka-certs: generated a CA and a broker certificate for 127.0.0.1/localhost in $dir ($tool)" >&2
