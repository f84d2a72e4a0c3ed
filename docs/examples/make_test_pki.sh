#!/usr/bin/env bash
# Runs a TLS example of the guide with a throwaway PKI made with the openssl CLI: a CA, a server
# certificate for localhost and a client certificate (for mutual TLS), removed afterwards.
# usage: make_test_pki.sh PROGRAM   (runs PROGRAM CA SERVER_CERT SERVER_KEY CLIENT_CERT CLIENT_KEY)
set -euo pipefail
program=$(realpath "$1")
dir=$(mktemp -d "${TMPDIR:-/tmp}/bulb-guide-pki.XXXXXX")
trap 'rm -rf "$dir"' EXIT
cd "$dir"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -days 2 -subj /CN=guide-ca -keyout ca.key -out ca.pem \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
leaf() {  # NAME CN EXTENSION
    openssl req "${ec[@]}" -subj "/CN=$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
    echo "$3" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile "$1.ext" \
        -out "$1.pem" 2>/dev/null
}
leaf server localhost "subjectAltName=DNS:localhost"
leaf client guide-client "extendedKeyUsage=clientAuth"
"$program" "$dir/ca.pem" "$dir/server.pem" "$dir/server.key" "$dir/client.pem" "$dir/client.key"
