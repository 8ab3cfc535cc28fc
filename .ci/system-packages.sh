#!/usr/bin/env bash
# The system packages hedui's tests need beyond Python, installed the same way by
# `make test` and by CI: Node.js for the client example (examples/node), SoftHSM2 for
# the PKCS#11 signing tests, and what the lines below name.
# Under CI=true a package that cannot be had fails the run; elsewhere it is a warning
# and the tests that need it skip.
set -uo pipefail

declare -A wanted=(
  [node]=nodejs  # the Node.js client example (examples/node) and its test
  [npm]=npm
  [softhsm2-util]=softhsm2  # PKCS#11 signing keys: the tests sign through a SoftHSM2 token
  [openssl]=openssl  # SM2/Ed25519 interop: the tests verify hedui's signatures with the CLI (libssl3's libcrypto signs SM2)
  [chromium]=chromium  # the web console's browser tests (Playwright drives this build)
  [docker-compose]=docker-compose  # `docker-compose config` checks docker/compose.yaml (no daemon needed)
  # The printable report: WeasyPrint's pango, a CJK font to embed, and the tests' readers
  # (pdffonts/pdftotext/pdftoppm; zbarimg decodes the QR code independently of hedui).
  ['/usr/lib/*/libpangoft2-1.0.so.0']=libpangoft2-1.0-0
  ['/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc']=fonts-noto-cjk
  [pdffonts]=poppler-utils
  [zbarimg]=zbar-tools
)

# A key is a command, or a path (glob) a package installs.
present() {
  if [[ $1 == /* ]]; then compgen -G "$1" >/dev/null; else command -v "$1" >/dev/null 2>&1; fi
}

missing=()
for cmd in "${!wanted[@]}"; do
  present "$cmd" || missing+=("${wanted[$cmd]}")
done

if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

status=0
for cmd in "${!wanted[@]}"; do
  if ! present "$cmd"; then
    echo "system package ${wanted[$cmd]} ($cmd) is missing" >&2
    status=1
  fi
done
if [ "$status" != 0 ] && [ "${CI:-}" = "true" ]; then
  echo "under CI=true every system package the tests need must be present" >&2
  exit 1
fi
exit 0
