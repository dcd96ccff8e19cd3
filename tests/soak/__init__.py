"""The soak: ``soak.py`` runs it, ``clients.py`` are its clients, ``relay.py`` and
``liquidations.py`` keep its account of liquidations."""
