"""The HTTP edge: the WSGI callable (``app``), request decoding and forms, replies and problems rendered."""
