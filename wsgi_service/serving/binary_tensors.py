"""The Open Inference Protocol's binary tensor data, read into the JSON form the contract validates.

tritonclient sends tensors as raw bytes unless told otherwise: the body is a
JSON header (its length in the ``Inference-Header-Content-Length`` header,
which the edge reads), then each input's data, in input order,
little-endian, its size in the input's ``parameters.binary_data_size``. Here
each such input gets its values back as the JSON ``data`` list, so the
request is then validated by the contract and answered exactly as if it had
been sent as JSON. Bytes JSON cannot carry (NaN,
infinities) are refused here, with a pointer, as the JSON decoder refuses
their tokens, and so is an input that has ``data`` of its own besides its
size: which of the two it means is not for the server to guess. Answers stay
JSON, which tritonclient reads as well.
"""

import numpy as np

from wsgi_service.errors import InvalidInferenceRequest

# The datatypes whose bytes are read, as numpy reads them (the protocol's are little-endian).
DTYPES = {"FP64": np.dtype("<f8"), "FP32": np.dtype("<f4")}


def with_binary_data_inlined(document: object, binary: bytes) -> object:
    """``document`` (the decoded JSON header, its whole numbers read as ints) with each binary
    input's values, read in turn from ``binary`` (the bytes after the header), as its ``data``."""
    tail, offset = memoryview(binary), 0
    inputs = document.get("inputs") if isinstance(document, dict) else None
    for index, tensor in enumerate(inputs if isinstance(inputs, list) else ()):
        parameters = tensor.get("parameters") if isinstance(tensor, dict) else None
        size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
        if size is None:
            continue
        dtype = DTYPES.get(tensor.get("datatype"))
        where = f"/inputs/{index}"
        if dtype is None:
            raise _refused(f"{where}/datatype", f"binary data is read for {' and '.join(DTYPES)} only")
        if "data" in tensor:
            raise _refused(f"{where}/data", "an input with binary_data_size holds no data of its own")
        if type(size) is not int or not 0 <= size <= len(tail) - offset or size % dtype.itemsize:
            raise _refused(f"{where}/parameters/binary_data_size", f"{size!r} is not a whole number of "
                           f"{tensor['datatype']} values within the {len(tail) - offset} bytes left")
        values = np.frombuffer(tail[offset:offset + size], dtype=dtype)
        offset += size
        finite = np.isfinite(values)
        if not finite.all():
            first = int(np.argmin(finite))
            raise _refused(f"{where}/data/{first}", f"{float(values[first])} is not a JSON number")
        tensor["data"] = values.astype(np.float64).tolist()
    if offset != len(tail):
        raise _refused("", f"{len(tail) - offset} bytes after the inputs' binary data belong to none")
    return document


def _refused(pointer: str, message: str) -> InvalidInferenceRequest:
    return InvalidInferenceRequest(f"The binary tensor data does not fit its header: {message}.",
                                   errors=[(pointer, message)])
