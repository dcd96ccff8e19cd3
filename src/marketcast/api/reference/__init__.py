"""The API described for machines: ``/openapi.json`` completed and ``/asyncapi.json`` assembled.

Each contract describes its own routes and sockets; this package only puts those
descriptions together, as ``api/app.py`` puts the routes together.
"""
