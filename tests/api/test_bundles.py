"""Serving bundles: from a file or a URL (ETag polling), signed; every worker converges; a bad bundle is refused."""

from __future__ import annotations

import hashlib
import http.server
import shutil
import signal
import threading
import time

import pytest

from dispatch.core.bundle import build_bundle, generate_key
from tests.api.conftest import Client, api_ruleset, free_port
from tests.api.test_serve import _answers, _start, _until


class BundleServer:
    """A bundle at http://127.0.0.1:port/b.tar.gz with a strong ETag; counts GETs and 304s."""

    def __init__(self):
        self.data = b""
        self.gets = 0
        self.not_modified = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.gets += 1
                etag = '"' + hashlib.sha256(outer.data).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    outer.not_modified += 1
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(outer.data)))
                self.end_headers()
                self.wfile.write(outer.data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/b.tar.gz"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def keys(tmp_path):
    generate_key(tmp_path / "k.pem", tmp_path / "k.pub")
    return tmp_path / "k.pem", tmp_path / "k.pub"


def _edit(rules, department: str) -> None:
    f = rules / "rules" / "municipal.csv"
    text = f.read_text(encoding="utf-8")
    for old in ("dx-cgw", "dx-cgzf"):
        text = text.replace(f"MUN-1,06010,110115,,,{old},", f"MUN-1,06010,110115,,,{department},")
    f.write_text(text, encoding="utf-8")


@pytest.mark.slow  # two worker processes (make test-slow)
def test_two_workers_follow_a_signed_bundle_url_and_refuse_a_tampered_one(tmp_path, keys):
    private, public = keys
    rules = api_ruleset(tmp_path / "rules")
    bundles = BundleServer()
    out = tmp_path / "b.tar.gz"
    build_bundle(rules, out, private)
    bundles.data = out.read_bytes()
    port = free_port()
    proc = _start(bundles.url, port, "--workers", "2", "--verification-key", str(public), poll=0.5)
    client = Client(port)
    try:
        _until(lambda: client.get("/readyz").status == 200, proc)
        assert {d for d, _ in _answers(client, 8)} == {"dx-cgw"}
        _until(lambda: bundles.not_modified >= 2, proc)  # polls ask with If-None-Match and get 304
        # a new bundle: both workers serve it within a poll interval or two
        _edit(rules, "dx-cgzf")
        build_bundle(rules, out, private)
        bundles.data = out.read_bytes()
        published = time.monotonic()
        _until(lambda: {d for d, _ in _answers(client, 12)} == {"dx-cgzf"}, proc, timeout=30)
        converged = time.monotonic() - published
        new_version = {v for _, v in _answers(client, 12)}
        assert len(new_version) == 1 and converged < 10
        # a bundle signed by another key: refused by every worker, the good one keeps serving
        other = tmp_path / "other"
        other.mkdir()
        generate_key(other / "x.pem", other / "x.pub")
        _edit(rules, "dx-cgw")
        build_bundle(rules, out, other / "x.pem")
        bundles.data = out.read_bytes()
        time.sleep(2)
        assert {v for _, v in _answers(client, 12)} == new_version
        assert client.get("/readyz").status == 200
        metrics = client.get("/metrics").body.decode()
        assert 'dispatch_reloads_total{outcome="refused"}' in metrics
        assert "dispatch_ruleset_refused 1" in metrics
        refused = client.get("/v1/ruleset").json["refused"]
        assert [d["code"] for d in refused["diagnostics"]] == ["bundle.invalid"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        bundles.close()


def test_a_bundle_file_is_served_and_an_unsigned_one_refused_at_start(tmp_path, keys):
    private, public = keys
    rules = api_ruleset(tmp_path / "rules")
    signed, unsigned = tmp_path / "s.tar.gz", tmp_path / "u.tar.gz"
    build_bundle(rules, signed, private)
    build_bundle(rules, unsigned)
    port = free_port()
    proc = _start(signed, port, "--verification-key", str(public))
    client = Client(port)
    try:
        _until(lambda: client.get("/readyz").status == 200, proc)
        assert {d for d, _ in _answers(client, 4)} == {"dx-cgw"}
        assert client.get("/v1/ruleset").json["root"] == "mini"  # the bundle's rule-set name, not a temporary path
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    port = free_port()
    proc = _start(unsigned, port, "--verification-key", str(public))
    client = Client(port)
    try:
        _until(lambda: client.get("/healthz").status == 200, proc)
        ready = client.get("/readyz")
        assert ready.status == 503
        assert [d["code"] for d in ready.json["diagnostics"]] == ["bundle.invalid"]
        assert "not signed" in ready.json["diagnostics"][0]["message"]
        assert str(tmp_path) not in ready.body.decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_the_cli_builds_and_signs_a_bundle(tmp_path, capsys):
    from dispatch.cli import main

    assert main(["bundle", "keygen", str(tmp_path / "k.pem"), str(tmp_path / "k.pub")]) == 0
    rules = api_ruleset(tmp_path / "rules")
    assert main(["bundle", "build", str(rules), "-o", str(tmp_path / "b.tar.gz"), "--signing-key", str(tmp_path / "k.pem")]) == 0
    assert "signed" in capsys.readouterr().out
    shutil.rmtree(rules / "rules")
    assert main(["bundle", "build", str(rules), "-o", str(tmp_path / "c.tar.gz")]) == 1
