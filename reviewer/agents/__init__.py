"""The four review agents (security, performance, quality, architecture), static pass for now."""
