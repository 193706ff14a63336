"""Reading a request's body at the edge: its media type, its encoding, its size, then strict JSON.

What the body says is for the serving layer; here it is only refused when it
is not something that layer reads: another media type (415), a compressed
body (415), one over MAX_BODY_BYTES (413), bytes that are not JSON (400).
"""

from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_options_header
from werkzeug.wsgi import get_input_stream

from wsgi_service.edge.decoding import decode_json
from wsgi_service.edge.replies import JSON_MEDIA_TYPE
from wsgi_service.errors import BodyTooLarge, MalformedJson, UnsupportedMediaType

# What a body of binary tensor data (the Open Inference Protocol's extension) may be labelled, beside JSON.
BINARY_MEDIA_TYPE = "application/octet-stream"


class BodyReader:
    """The bodies of requests, each within ``max_body_bytes``."""

    def __init__(self, max_body_bytes: int):
        self.max_body_bytes = max_body_bytes

    def json(self, environ: dict, untyped_is_json: bool = False) -> object:
        """The decoded JSON body (``untyped_is_json``: a body without Content-Type counts as JSON)."""
        return decode_json(self.read(environ, untyped_is_json))

    def json_header_and_binary(self, environ: dict, header_length: str) -> tuple[object, bytes]:
        """A body of binary tensor data: its JSON header (``header_length`` bytes) decoded, and the rest."""
        body = self.read(environ, untyped_is_json=True, media_types=(JSON_MEDIA_TYPE, BINARY_MEDIA_TYPE))
        length = int(header_length) if header_length.strip().isdigit() else -1
        if not 0 <= length <= len(body):
            raise MalformedJson(f"Inference-Header-Content-Length {header_length[:20]!r} is not a length within "
                                f"the body's {len(body)} bytes.", errors=[("", "no JSON header of that length")])
        return decode_json(body[:length]), body[length:]

    def too_large(self) -> BodyTooLarge:
        return BodyTooLarge(f"The body exceeds {self.max_body_bytes} bytes.", limit=self.max_body_bytes)

    def read(self, environ: dict, untyped_is_json: bool = False,
             media_types: tuple[str, ...] = (JSON_MEDIA_TYPE,)) -> bytes:
        """The request's body, once its Content-Type is one of ``media_types`` (JSON in UTF-8), or
        with ``untyped_is_json`` none at all, it is not compressed, and it fits MAX_BODY_BYTES."""
        content_type = environ.get("CONTENT_TYPE", "")
        mimetype, params = parse_options_header(content_type)
        if (content_type or not untyped_is_json) and (
                mimetype.lower() not in media_types or params.get("charset", "utf-8").lower() not in ("utf-8", "utf8")):
            raise UnsupportedMediaType(f"Send the body as {' or '.join(media_types)} (UTF-8); got "
                                       f"{content_type[:80] or 'no Content-Type'!r}.")
        encoding = environ.get("HTTP_CONTENT_ENCODING", "")
        if encoding.strip().lower() not in ("", "identity"):
            raise UnsupportedMediaType(f"Send the body uncompressed; got Content-Encoding {encoding[:40]!r}.")
        # One byte over the limit: werkzeug cuts a streamed (chunked) body there
        # without an error, and that extra byte is how we tell "over" from "at".
        try:
            data = get_input_stream(environ, max_content_length=self.max_body_bytes + 1).read()
        except HTTPException:
            raise
        except Exception as error:
            # The server's reader refused the body's framing (gunicorn raises
            # InvalidChunkSize, ChunkMissingTerminator, ... from wsgi.input.read()):
            # PEP 3333 names no exception for it, and the fault is the client's.
            raise MalformedJson(f"The body could not be read: {type(error).__name__}.",
                                errors=[("", "unreadable body")]) from None
        if len(data) > self.max_body_bytes:
            raise self.too_large()
        return data
