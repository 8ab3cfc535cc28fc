#!/bin/sh
# The local stack's secrets, made on the host and never committed (docker/secrets/ is
# ignored by git): a random PostgreSQL password, the database URL that carries it, and the
# mTLS PKI — a CA, the server's certificate and key, a client certificate for the case
# system and one for the container's health check.
#
#   docker/make-secrets.sh            # then: docker compose -f docker/compose.yaml up --build
#
# Files are private to the user who runs this (umask 077). The image's user is built with
# that user's uid (HEDUI_UID, written to docker/.env, which compose reads), so the
# container can read them and nobody else can. Run again to renew certificates; the
# password is kept.
set -eu
cd "$(dirname "$0")"
umask 077
mkdir -p secrets

if [ ! -s secrets/db_password.txt ]; then
  # URL-safe characters only: the password also goes into the database URL.
  python3 -c 'import secrets; print(secrets.token_urlsafe(24), end="")' > secrets/db_password.txt
fi
printf 'postgresql://hedui:%s@db/hedui' "$(cat secrets/db_password.txt)" > secrets/database_url.txt

# `hedui certs init` from the host's installation, else from the image.
pki_args="certs init --dir pki --system local-case-system --system healthcheck --server-name hedui --server-name localhost"
if command -v hedui >/dev/null 2>&1; then
  (cd secrets && hedui $pki_args)
else
  docker build -q -f Dockerfile --build-arg HEDUI_UID="$(id -u)" -t hedui .. >/dev/null
  docker run --rm --user "$(id -u)" -v "$PWD/secrets:/out" -w /out --entrypoint hedui hedui $pki_args
fi
# Compose reads docker/.env: the image's user gets this uid.
printf 'HEDUI_UID=%s\n' "$(id -u)" > .env
echo "secrets written under docker/secrets/; start with: docker compose -f docker/compose.yaml up --build"
