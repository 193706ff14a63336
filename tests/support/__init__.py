"""Helpers the tests share: problem assertions, hypothesis strategies, server-log readers, and apps
broken on purpose for gunicorn to load. Test modules import from here, never from each other."""
