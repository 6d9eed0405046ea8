#!/usr/bin/env bash
# The whole test suite, from a clean checkout: installs what it needs, starts what it needs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash ops/bootstrap.sh test
bash ops/services.sh
# promtool checks the alert rules (tests/unit/test_ops_manifests.py): Debian's prometheus package.
if ! command -v promtool >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
# The dashboard's browser test drives Debian's chromium (~300 MB installed) with Playwright;
# never `playwright install`, which downloads a browser build of its own.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
export PYTHONDONTWRITEBYTECODE=1
.venv/bin/lint-imports pyproject.toml
.venv/bin/ruff check --quiet .  # the linters the project asks of the code it reviews, on itself
exec .venv/bin/python -m pytest "$@"
