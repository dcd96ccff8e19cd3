"""Which symbols the exchange lists (the catalog) and their display-ready metadata."""
