"""Scale-out over a shared store: the ingest leader lease and the change-feed relay."""
