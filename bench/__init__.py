"""The service's benchmark, ``python -m bench`` (run from the repository root).

Not a test: it measures, on loopback, how close the service comes to a
trivial JSON app under the same gunicorn settings, and prints the figures
beside their targets.
"""
