#!/usr/bin/env bash
# make-certs.sh DIR: test certificates, made with the openssl command.
#   ca.crt/key, other.crt/key              two unrelated CAs
#   server.crt/key, client.crt/key         signed by ca (server: localhost, 127.0.0.1)
#   other-server.crt/key                   signed by other (localhost, 127.0.0.1)
set -euo pipefail
cd "$1"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() {
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -out "$1.crt" -days 2 -subj "/CN=$1" 2>/dev/null
}
leaf() {
  key "$1.key"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$3" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 2 \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
}
ca ca
ca other
leaf server ca localhost
leaf client ca client
leaf other-server other localhost
