"""GET /docs from the real server: everything it loads comes from the service itself, under a CSP of 'self'."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from dispatch.api.docs import ASSETS, asset_path


class PageLoads(HTMLParser):
    """What a page makes the browser load or run: script sources, inline scripts, links, images, styles."""

    def __init__(self):
        super().__init__()
        self.scripts: list[str | None] = []  # src, or None for an inline script
        self.inline: list[str] = []
        self.links: dict[str, str] = {}  # href -> rel
        self.other: list[str] = []  # any other URL-bearing attribute, and inline styles
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts.append(a.get("src"))
            self._in_script = "src" not in a
        elif tag == "link":
            self.links[a["href"]] = a.get("rel", "")
        elif tag == "style" or "style" in a:
            self.other.append(f"<{tag}> style")
        for name in ("src", "href", "action", "formaction", "data", "poster"):
            if name in a and tag not in ("script", "link"):
                self.other.append(a[name])
        self.other.extend(v for k, v in attrs if k.startswith("on"))

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline.append(data)


def policy(header: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header as {directive: [sources]}."""
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


@pytest.fixture(scope="module")
def docs(server):
    r = server.client.get("/docs")
    assert r.status == 200 and r.headers["content-type"].startswith("text/html")
    page = PageLoads()
    page.feed(r.body.decode())
    return r, page


def test_the_page_loads_only_from_this_service(docs):
    r, page = docs
    assert b"//" not in r.body  # no absolute URL: no CDN, no other host
    assert page.scripts and None not in page.scripts and not page.inline  # no inline script at all
    assert page.other == []
    for url in [*page.scripts, *page.links]:
        assert url.startswith("/docs/"), url


def test_every_asset_answers_with_its_type_from_the_installed_package(server, docs):
    _, page = docs
    wants = {"text/javascript": page.scripts, "text/css": [h for h, rel in page.links.items() if rel == "stylesheet"]}
    for media, urls in wants.items():
        assert urls
        for url in urls:
            r = server.client.get(url)
            assert r.status == 200, url
            # the type is what nosniff lets the browser run: a wrong one and the page is blank
            assert r.headers["content-type"].split(";")[0] == media, url
    for name in ASSETS:
        r = server.client.get(f"/docs/{name}")
        assert r.status == 200
        assert r.body == asset_path(name).read_bytes()  # the package's file, not a copy to keep up to date
    bundle = asset_path("swagger-ui-bundle.js").read_bytes()
    assert b'PACKAGE_VERSION:"5.' in bundle  # Swagger UI 5: it reads OpenAPI 3.1, which FastAPI writes


def test_init_script_reads_the_description_from_this_service(server, docs):
    r, _ = docs
    assert b'data-openapi="/openapi.json"' in r.body
    init = server.client.get("/docs/init.js").body.decode()
    assert "SwaggerUIBundle(" in init and "dataset.openapi" in init
    assert "validatorUrl: null" in init  # or Swagger UI would send the description to swagger.io


def test_content_security_policy_allows_self_and_nothing_else(docs):
    r, _ = docs
    csp = policy(r.headers["content-security-policy"])
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"]  # the description, and "Try it out"
    assert csp["img-src"] == ["'self'", "data:"]  # Swagger UI's icons are data: URIs in its stylesheet
    assert csp["frame-ancestors"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert csp["form-action"] == ["'none'"]
    sources = {s for v in csp.values() for s in v}
    assert sources <= {"'self'", "'none'", "data:"}


def test_no_cdn_page_is_left(client):
    assert client.get("/redoc").status == 404  # ReDoc is not served
    assert client.get("/docs/oauth2-redirect").status == 404
