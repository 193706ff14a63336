"""Serving: a decoded request body in, an answer or a typed ``Problem`` out. No HTTP here.

``prediction`` answers ``POST /predict``'s two forms (seed and rich) and is
the one path from validated rows to the model's outputs; ``open_inference``
answers the Open Inference Protocol's infer requests over that same path;
``binary_tensors`` reads the protocol's binary tensor data back into the JSON
form the contract validates. The edge decodes and encodes; nothing here
knows a header, a status line or a media type.
"""
