"""The interactive API page, ``GET /docs``: Swagger UI rendering the served contract.

Everything the page loads is served by the service itself from files packaged
here (``GET /docs/{asset}``): Swagger UI's script, style sheet and icon,
copied from one pinned npm release of ``swagger-ui-dist`` (``swagger-ui/``,
with its licence and ``pin.json``; ``.ci/vendor-swagger-ui.py`` re-fetches and
checks them), and the page's own start-up script. The page needs no internet,
and its Content-Security-Policy lets nothing else in.
"""

from wsgi_service.edge.docs.page import ASSET_FILES, CONTENT_SECURITY_POLICY, DocsPage, docs_page_for

__all__ = ["ASSET_FILES", "CONTENT_SECURITY_POLICY", "DocsPage", "docs_page_for"]
