#!/usr/bin/env bash
# The whole test suite, from a clean checkout: installs what it needs, starts what it needs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash ops/bootstrap.sh test
bash ops/services.sh
export PYTHONDONTWRITEBYTECODE=1
.venv/bin/lint-imports --config pyproject.toml
exec .venv/bin/python -m pytest "$@"
