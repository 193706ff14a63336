"""The contract enforced: request validation compiled from the contract file, and its agreement with the model.

- ``validation``: ``RequestValidator``, a decoded body in, what it breaks (pointer, message) out;
- ``schema_compiler``: a request schema compiled, once at start, into a check of whole batches
  (its keyword compilers in ``typed_keywords`` and ``compiled_checks``);
- ``proven_items``: jsonschema's ``items`` skipping the items that check proves valid, so that an
  invalid batch is explained as fast;
- ``agreement``: the contract and the model describe the same rows and answers, or the service does not start.
"""
