"""The HTTP edge: the WSGI callable (``app``), its operation table, request bodies, replies and problems, the docs page."""
