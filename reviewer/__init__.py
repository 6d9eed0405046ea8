"""reviewer: the domain core of the pull-request review service (pure: no I/O at import)."""
