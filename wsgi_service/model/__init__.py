"""The model: a model directory loaded only once verified, and the forest compiled for serving."""
