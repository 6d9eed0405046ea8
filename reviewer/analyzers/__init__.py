"""Static analyzers: real tools (bandit, ruff, radon) and small AST rules, one module each."""
