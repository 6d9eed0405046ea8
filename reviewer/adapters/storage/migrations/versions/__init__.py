"""Migration revisions, applied in order by ``reviewer.adapters.storage.migrate.upgrade``."""
