"""One handler per contract operation, and the table that names them.

A handler takes the WSGI environ (and the path's parameters) and returns a
``Reply`` or raises a ``Problem``: what an answer says is computed by the
serving layer, or was encoded once at start (``prepared``). ``table()``
is the whole list of operations this service can answer, written out so a
reader sees every route's handler in one place; the app checks it against
the contract it serves when it starts.
"""

from collections.abc import Callable

from wsgi_service.edge.bodies import BodyReader
from wsgi_service.edge.docs import DocsPage
from wsgi_service.edge.prepared import PreparedReplies
from wsgi_service.edge.replies import Reply, encode_json
from wsgi_service.errors import Draining, NotFound
from wsgi_service.operations.draining import DrainState
from wsgi_service.operations.metrics import METRICS_MEDIA_TYPE, ServiceMetrics
from wsgi_service.serving.open_inference import OpenInference
from wsgi_service.serving.prediction import Answer, Predictor

Handler = Callable[..., Reply]
NO_SUCH_PATH = "No such path; GET / lists the endpoints."


class Endpoints:
    """The handlers of one service, over the collaborators the factory built."""

    def __init__(self, *, replies: PreparedReplies, predictor: Predictor, open_inference: OpenInference | None,
                 docs: DocsPage | None, bodies: BodyReader, metrics: ServiceMetrics, drain: DrainState,
                 identity: dict):
        self.replies, self.predictor, self.open_inference = replies, predictor, open_inference
        self.docs, self.bodies, self.metrics, self.drain, self.identity = docs, bodies, metrics, drain, identity

    def table(self) -> dict[str, Handler]:
        """operationId to handler: the docs page's and the Open Inference Protocol's only when
        this service has them (a contract without them documents neither)."""
        table = {"index": self.index, "health": self.health, "model": self.model, "contract": self.contract,
                 "metrics": self.metrics_exposition, "predict": self.predict}
        if self.docs is not None:
            table |= {"docs": self.docs_page, "docs_asset": self.docs_asset}
        if self.open_inference is not None:
            table |= {"v2_server_metadata": self.v2_server_metadata, "v2_server_live": self.v2_server_live,
                      "v2_server_ready": self.v2_server_ready,
                      "v2_model_metadata": self.v2_model_metadata, "v2_model_version_metadata": self.v2_model_metadata,
                      "v2_model_ready": self.v2_model_ready, "v2_model_version_ready": self.v2_model_ready,
                      "v2_infer": self.v2_infer, "v2_version_infer": self.v2_infer}
        return table

    def index(self, environ: dict) -> Reply:
        return self.replies.index

    def health(self, environ: dict) -> Reply:
        self._refuse_while_draining()
        return self.replies.health

    def model(self, environ: dict) -> Reply:
        return self.replies.manifest

    def contract(self, environ: dict) -> Reply:
        return self.replies.contract

    def metrics_exposition(self, environ: dict) -> Reply:
        return Reply(200, self.metrics.exposition(), METRICS_MEDIA_TYPE)

    def predict(self, environ: dict) -> Reply:
        return self._predicted(self.predictor.answer(self.bodies.json(environ)))

    def docs_page(self, environ: dict) -> Reply:
        # werkzeug also matches /docs/ here (/docs has a subpath), where the page's
        # relative URLs would point one level too deep: 404, as for /health/.
        if environ.get("PATH_INFO", "").endswith("/"):
            raise NotFound(NO_SUCH_PATH)
        return self.docs.page

    def docs_asset(self, environ: dict, asset: str) -> Reply:
        reply = None if environ.get("PATH_INFO", "").endswith("/") else self.docs.asset(asset)
        if reply is None:
            raise NotFound("No such file of the docs page; the contract lists them under /docs/{asset}.")
        return reply

    # --- the Open Inference Protocol (V2) ---

    def v2_server_metadata(self, environ: dict) -> Reply:
        return self.replies.v2_server

    def v2_server_live(self, environ: dict) -> Reply:
        return self.replies.v2_live

    def v2_server_ready(self, environ: dict) -> Reply:
        self._refuse_while_draining()
        return self.replies.v2_ready

    def v2_model_metadata(self, environ: dict, model_name: str, model_version: str | None = None) -> Reply:
        self._check_model_named(model_name, model_version)
        return self.replies.v2_metadata

    def v2_model_ready(self, environ: dict, model_name: str, model_version: str | None = None) -> Reply:
        self._check_model_named(model_name, model_version)
        self._refuse_while_draining()
        return self.replies.v2_model_ready

    def v2_infer(self, environ: dict, model_name: str, model_version: str | None = None) -> Reply:
        self._check_model_named(model_name, model_version)
        header_length = environ.get("HTTP_INFERENCE_HEADER_CONTENT_LENGTH")
        if header_length is None:
            return self._predicted(self.open_inference.infer(self.bodies.json(environ, untyped_is_json=True)))
        # the binary tensor data extension: a JSON header, then the tensors' bytes
        return self._predicted(self.open_inference.infer(*self.bodies.json_header_and_binary(environ, header_length)))

    # --- what several handlers share ---

    def _refuse_while_draining(self) -> None:
        if self.drain.draining:
            raise Draining("This instance is stopping: it answers what it has accepted; send new requests "
                           "elsewhere.")

    def _check_model_named(self, name: str, version: str | None) -> None:
        identity = self.identity
        if name != identity["name"] or version not in (None, identity["version"]):
            asked = repr(name) if version is None else f"{name!r} version {version!r}"
            raise NotFound(f"No model {asked[:200]}: this server serves {identity['name']!r} version "
                           f"{identity['version']!r}.")

    def _predicted(self, answer: Answer) -> Reply:
        self.metrics.predicted(answer.rows, answer.winners)
        if answer.out_of_range is not None:
            self.metrics.out_of_range(*answer.out_of_range)
        return Reply(200, encode_json(answer.document), headers=self.replies.model_header, rows=answer.rows)
