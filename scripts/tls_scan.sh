#!/usr/bin/env bash
# TLS configuration scan of the TLS echo server (RELIABILITY.md test 25, T2): a person runs it.
#
#     bash scripts/tls_scan.sh [BUILDDIR]      (default build/; examples/echo_server must be built)
#
# Makes a throwaway CA and a certificate for localhost/127.0.0.1 with the openssl CLI, starts
# `echo_server --port 0 --tls-cert --tls-key` on loopback, runs testssl.sh (Debian package
# testssl.sh, installed when missing) against 127.0.0.1:PORT, and checks its JSON findings:
# no finding of severity MEDIUM, HIGH or CRITICAL unless allow-listed below with a reason.
# Also tries a client-initiated renegotiation with openssl s_client (must be refused). Bounded:
# the scan is stopped after 10 minutes. Exit 0 when clean, 1 otherwise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build}
server_exe=$build/examples/echo_server
[ -x "$server_exe" ] || { echo "tls_scan.sh: $server_exe is not built" >&2; exit 1; }
command -v testssl >/dev/null || command -v testssl.sh >/dev/null || {
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends testssl.sh openssl </dev/null >/dev/null
}
testssl=$(command -v testssl || command -v testssl.sh)

# Findings accepted, with the reason (id as testssl.sh names it).
allow=(
)

work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bulb test CA" \
    -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$work/ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 2 \
    -extfile "$work/ext" -out "$work/server.pem" 2>/dev/null

"$server_exe" --port 0 --tls-cert "$work/server.pem" --tls-key "$work/server.key" > "$work/server.out" 2>&1 &
server_pid=$!
for _ in $(seq 50); do grep -q '^listening on ' "$work/server.out" && break; sleep 0.1; done
port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.out" | head -1)
[ -n "$port" ] || { echo "tls_scan.sh: the server did not start: $(cat "$work/server.out")" >&2; exit 1; }
echo "=== echo_server (TLS) on 127.0.0.1:$port; testssl.sh (up to 10 min)"

rc=0
timeout 600 "$testssl" --quiet --color 0 --warnings off --ip one --jsonfile "$work/scan.json" \
    "127.0.0.1:$port" > "$work/scan.txt" 2>&1 || true
[ -s "$work/scan.json" ] || { echo "tls_scan.sh: testssl.sh wrote no findings"; tail -20 "$work/scan.txt"; exit 1; }
python3 - "$work/scan.json" "${allow[@]+"${allow[@]}"}" <<'PY' || rc=1
import json, sys
findings = json.load(open(sys.argv[1]))
allowed = set(a.split()[0] for a in sys.argv[2:])
counts, bad = {}, []
for f in findings:
    sev = f.get("severity", "")
    counts[sev] = counts.get(sev, 0) + 1
    if sev in ("MEDIUM", "HIGH", "CRITICAL") and f.get("id") not in allowed:
        bad.append(f"{sev:8} {f.get('id')}: {f.get('finding')}")
print("severities:", ", ".join(f"{k or '-'} {v}" for k, v in sorted(counts.items())))
for f in findings:
    if f.get("id") in ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3", "secure_renego",
                       "secure_client_renego", "TLS_session_ticket", "cipherlist_NULL", "cipherlist_aNULL",
                       "cipherlist_EXPORT", "cipherlist_LOW", "cipherlist_3DES_IDEA", "BREACH", "CRIME_TLS"):
        print(f"  {f['id']:22} {f.get('severity', ''):8} {f.get('finding', '')}")
if bad:
    print("not allowed:")
    print("\n".join("  " + b for b in bad))
    sys.exit(1)
PY

echo "=== client-initiated renegotiation (openssl s_client -tls1_2, then R)"
out=$( (printf 'R\n'; sleep 2) | timeout 10 openssl s_client -connect "127.0.0.1:$port" -tls1_2 \
      -CAfile "$work/ca.pem" -servername localhost 2>&1 || true)
if grep -q 'RENEGOTIATING' <<<"$out" && ! grep -qiE 'no renegotiation|alert|errno|error' <<<"$out"; then
    echo "renegotiation: accepted (should be refused)"; rc=1
else
    echo "renegotiation: refused"
fi
echo "=== $([ $rc -eq 0 ] && echo clean || echo FINDINGS) (full report: rerun with the JSON kept: $work is removed)"
exit $rc
