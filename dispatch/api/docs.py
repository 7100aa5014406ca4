"""Docs: GET /docs, Swagger UI from an installed package (no CDN), under a Content-Security-Policy of 'self'.

A city network often has no internet: FastAPI's own /docs loads Swagger UI from a public
CDN and is blank there. The assets here come from the `fastapi-offline` package (Swagger UI
5), and the page's only script of our own is a file too (`init.js`, which reads the
description's URL from the page), so the policy allows scripts from 'self' and nothing else:
no inline script, no hash or nonce to keep in step. ReDoc is not served.
"""

from __future__ import annotations

import html
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

DOCS_PATH = "/docs"
# Swagger UI sets styles through the DOM (which style-src does not govern) and draws its icons
# as data: URIs in its stylesheet; it fetches the description and, with "Try it out", the
# endpoints from this origin; validatorUrl null keeps it from asking swagger.io to validate.
# Headless Chromium reports no violation of this policy on the page or an opened operation.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# name under /docs/ -> (file in fastapi_offline/static, media type: set here, not guessed, for nosniff)
ASSETS = {
    "swagger-ui-bundle.js": ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    "swagger-ui.css": ("swagger-ui.css", "text/css; charset=utf-8"),
    "favicon.png": ("favicon.png", "image/png"),
}
INIT_JS = """\
window.ui = SwaggerUIBundle({
  url: document.getElementById("swagger-ui").dataset.openapi,
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
});
"""
_PAGE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="icon" type="image/png" href="{docs}/favicon.png">
<link rel="stylesheet" href="{docs}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi="{openapi}"></div>
<script src="{docs}/swagger-ui-bundle.js"></script>
<script src="{docs}/init.js"></script>
</body>
</html>
"""


def asset_path(name: str):
    """The installed file behind /docs/<name> (a Traversable in the fastapi_offline package)."""
    return files("fastapi_offline").joinpath("static", ASSETS[name][0])


def docs_page(title: str, root_path: str, openapi_url: str) -> str:
    """The HTML of /docs for an app mounted at `root_path`."""
    return _PAGE.format(
        title=html.escape(f"{title} - API"),
        docs=html.escape(root_path + DOCS_PATH),
        openapi=html.escape(root_path + openapi_url),
    )


def add_docs(app: FastAPI) -> None:
    """Serve /docs and its assets on `app` (created with docs_url=None and redoc_url=None)."""
    headers = {"content-security-policy": CONTENT_SECURITY_POLICY}

    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = docs_page(app.title, root, app.openapi_url or "/openapi.json")
        return HTMLResponse(page, headers=headers)

    @app.get(DOCS_PATH + "/init.js", include_in_schema=False)
    async def docs_init() -> Response:
        return Response(INIT_JS, media_type="text/javascript; charset=utf-8")

    for name, (_, media_type) in ASSETS.items():
        app.get(f"{DOCS_PATH}/{name}", include_in_schema=False, name=f"docs-{name}")(
            _asset_endpoint(asset_path(name), media_type)
        )


def _asset_endpoint(path, media_type: str):
    async def asset() -> FileResponse:
        return FileResponse(path, media_type=media_type)

    return asset
