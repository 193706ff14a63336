"""The answers that depend on nothing a request says, encoded once at start."""

from importlib import metadata
from typing import NamedTuple
from urllib.parse import quote

from contract import operations
from contract.generate import contract_bytes
from wsgi_service.edge.replies import Reply, encode_json
from wsgi_service.model.loading import LoadedModel

MODEL_HEADER = "X-Model"
# The distribution whose name and version the Open Inference Protocol's server metadata gives.
DISTRIBUTION = "wsgi-forest-service"


class PreparedReplies(NamedTuple):
    index: Reply
    health: Reply
    manifest: Reply
    contract: Reply
    v2_server: Reply
    v2_live: Reply
    v2_ready: Reply
    v2_model_ready: Reply
    # The Open Inference Protocol's model metadata; None when the contract has no V2 part.
    v2_metadata: Reply | None
    # The X-Model header every prediction carries.
    model_header: tuple[tuple[str, str], ...]


def prepare_replies(contract: dict, model: LoadedModel) -> PreparedReplies:
    """Every fixed answer of the service of ``model`` under ``contract`` (the contract as served)."""
    identity = model.identity  # a property that builds the dict anew: once here
    v2_metadata = contract["components"]["schemas"].get("V2ModelMetadata")
    return PreparedReplies(
        index=Reply(200, encode_json({
            "name": contract["info"]["title"],
            "contract": "/openapi.json",
            "endpoints": [{"method": method.upper(), "path": path, "summary": operation.get("summary", "")}
                          for path, method, operation in operations(contract)],
        })),
        health=Reply(200, encode_json({"status": "ok", "model": identity})),
        manifest=Reply(200, encode_json({**model.manifest, "serving": model.serving})),
        contract=Reply(200, contract_bytes(contract)),
        v2_server=Reply(200, encode_json({"name": DISTRIBUTION, "version": _distribution_version(),
                                          "extensions": []})),
        v2_live=Reply(200, encode_json({"live": True})),
        v2_ready=Reply(200, encode_json({"ready": True})),
        v2_model_ready=Reply(200, encode_json({"name": identity["name"], "ready": True})),
        v2_metadata=None if v2_metadata is None else Reply(200, encode_json(v2_metadata["const"])),
        model_header=((MODEL_HEADER, model_header_value(identity)),),
    )


def model_header_value(identity: dict) -> str:
    """``name/version/sha256-prefix``, the contract's Model header: the name and version
    percent-encoded (a slash, a space or a non-ASCII letter cannot break it)."""
    return "/".join((quote(identity["name"], safe=""), quote(identity["version"], safe=""), identity["sha256"][:12]))


def _distribution_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # imported from a checkout that was never installed
        return "unknown"
