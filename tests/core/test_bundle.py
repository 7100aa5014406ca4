"""Bundles: built from a rule set, verified, unpacked to the same version; anything altered or unsigned refused."""

from __future__ import annotations

import io
import shutil
import tarfile

import pytest

from dispatch.core.bundle import BundleError, build_bundle, generate_key, open_bundle
from dispatch.core.load import load_ruleset
from tests.conftest import MINI


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    generate_key(d / "a.pem", d / "a.pub")
    generate_key(d / "b.pem", d / "b.pub")
    return d


def members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar}


def pack(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_a_signed_bundle_unpacks_to_the_same_rule_set(tmp_path, keys):
    out = tmp_path / "mini.tar.gz"
    index = build_bundle(MINI, out, keys / "a.pem")
    bundle = open_bundle(out.read_bytes(), keys / "a.pub", into=tmp_path)
    assert bundle.signed and bundle.version == index["version"] == load_ruleset(MINI).version
    assert load_ruleset(bundle.root).version == bundle.version
    assert sorted(index["files"]) == ["areas.csv", "departments.csv", "rules/municipal.csv", "rules/safety.csv",
                                      "ruleset.toml", "taxonomy.csv"]  # fmt: skip


def test_the_same_files_make_the_same_bundle(tmp_path):
    a, b = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    build_bundle(MINI, a)
    build_bundle(MINI, b)
    strip = lambda m: {k: v for k, v in m.items() if k != "bundle.json"}
    assert strip(members(a.read_bytes())) == strip(members(b.read_bytes()))


def test_unsigned_wrong_key_altered_extra_or_escaping_bundles_are_refused(tmp_path, keys):
    out = tmp_path / "mini.tar.gz"
    build_bundle(MINI, out, keys / "a.pem")
    good = members(out.read_bytes())
    unsigned = {k: v for k, v in good.items() if k != "bundle.sig"}
    altered = dict(good, **{"ruleset/rules/municipal.csv": good["ruleset/rules/municipal.csv"] + b"X,1,1,,,a,,,,,,\n"})
    extra = dict(good, **{"ruleset/rules/extra.csv": b"id\n"})
    escaping = dict(good, **{"../evil.csv": b"x"})
    open_bundle(pack(unsigned), None, into=tmp_path)  # no key: an unsigned bundle is fine
    cases = [
        (pack(unsigned), keys / "a.pub", "not signed"),
        (out.read_bytes(), keys / "b.pub", "does not verify"),
        (pack(altered), keys / "a.pub", "altered"),
        (pack(altered), None, "altered"),
        (pack(extra), None, "extra"),
        (pack(escaping), None, "not a plain"),
        (b"not a bundle", None, "not a bundle"),
    ]
    for data, key, words in cases:
        with pytest.raises(BundleError, match=words):
            open_bundle(data, key, into=tmp_path)


def test_an_invalid_rule_set_makes_no_bundle(tmp_path):
    root = tmp_path / "rules"
    shutil.copytree(MINI, root)
    (root / "rules" / "municipal.csv").write_text("id,event\nbroken,\n", encoding="utf-8")
    with pytest.raises(BundleError, match="not a valid rule set"):
        build_bundle(root, tmp_path / "x.tar.gz")
    assert not (tmp_path / "x.tar.gz").exists()
