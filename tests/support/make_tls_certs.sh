#!/usr/bin/env bash
# Makes the certificates the TLS tests use, with the openssl command-line tool, in DIR:
#   ca.crt/.key          the test CA
#   server.crt/.key      for localhost and 127.0.0.1, signed by the CA
#   expired.crt          the same key, signed by the CA, valid only in 2020
#   client.crt/.key      a client certificate signed by the CA (mutual TLS)
#   other-ca.crt         an unrelated CA (the "wrong CA")
#
#   tests/support/make_tls_certs.sh DIR
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
quiet() { "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@"; exit 1; }; }

quiet openssl req -x509 -new -nodes -newkey rsa:2048 -keyout ca.key -out ca.crt -days 2 -subj "/CN=sessionkit test CA"
quiet openssl req -x509 -new -nodes -newkey rsa:2048 -keyout other-ca.key -out other-ca.crt -days 2 -subj "/CN=another CA"

printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >server.ext
quiet openssl req -new -nodes -newkey rsa:2048 -keyout server.key -out server.csr -subj "/CN=localhost"
quiet openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 \
  -extfile server.ext

# An expired certificate: `openssl ca` is the tool that takes explicit dates.
mkdir -p ca-db
: >ca-db/index.txt
echo 1000 >ca-db/serial
cat >ca.cnf <<CNF
[ca]
default_ca = test_ca
[test_ca]
dir = $PWD/ca-db
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir
certificate = $PWD/ca.crt
private_key = $PWD/ca.key
default_md = sha256
policy = anything
copy_extensions = copy
[anything]
commonName = supplied
CNF
quiet openssl ca -batch -config ca.cnf -in server.csr -out expired.crt -startdate 20200101000000Z \
  -enddate 20200201000000Z -extfile server.ext -notext

printf 'extendedKeyUsage=clientAuth\n' >client.ext
quiet openssl req -new -nodes -newkey rsa:2048 -keyout client.key -out client.csr -subj "/CN=sessionkit client"
quiet openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2 \
  -extfile client.ext
echo "certificates in $dir"
