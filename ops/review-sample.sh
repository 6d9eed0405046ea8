#!/usr/bin/env bash
# The main job on a bare machine: install, then review the sample pull request that ships
# with the repository, locally, on embedded defaults (no API key, no external service).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash ops/bootstrap.sh
exec .venv/bin/reviewer review --diff docs/sample-pr.diff "$@"
