"""Bundles: a rule set as one versioned, optionally signed artifact (tar.gz), built, verified and unpacked.

A bundle holds exactly the files a rule set's manifest names (as `dispatch check` reads
them), under `ruleset/`, and `bundle.json`: the rule-set name and version, and the
SHA-256 of every file. Signed, it also holds `bundle.sig`: an Ed25519 signature of the
bytes of bundle.json (and so, through the digests, of every file). Verifying checks the
signature with the public key, that every file is listed with its digest and nothing
else is in the archive, then unpacks into a fresh directory, which is then loaded as
any rule directory. OPA's bundles are the model (a manifest, per-file digests, a
signature over them); ours sign with a raw Ed25519 key instead of a JWT, and carry no
data or policies but the rule set.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from dispatch.core.load import MANIFEST, read_ruleset, rule_files

FORMAT = 1
INDEX = "bundle.json"
SIGNATURE = "bundle.sig"
PREFIX = "ruleset/"
MAX_BUNDLE_BYTES = 256 * 2**20  # an archive (or its unpacked files) past this is refused


class BundleError(Exception):
    """A bundle that cannot be built, read or trusted: the message says why."""


@dataclass(frozen=True, slots=True)
class Bundle:
    """An unpacked, verified bundle: its rule directory and what bundle.json says."""

    root: Path
    name: str
    version: str
    signed: bool


def build_bundle(root: str | Path, out: str | Path, signing_key: str | Path | None = None) -> dict:
    """Write the valid rule set in `root` as a bundle to `out`; returns its index. BundleError when invalid."""
    root = Path(root)
    ruleset, diagnostics = read_ruleset(root)
    if ruleset is None:
        errors = [str(d) for d in diagnostics if d.severity.value == "error"]
        raise BundleError(f"{root} is not a valid rule set ({len(errors)} error(s)): " + "; ".join(errors[:3]))
    m = ruleset.manifest
    files = [root / MANIFEST, root / m.taxonomy, root / m.areas, root / m.departments, *rule_files(root, m)]
    if m.calendar is not None and m.calendar.days_file:
        files.append(root / m.calendar.days_file)
    if m.gridmap:
        files.append(root / m.gridmap)
    contents = {f.relative_to(root).as_posix(): f.read_bytes() for f in files}
    index = {
        "format": FORMAT,
        "name": m.name,
        "version": ruleset.version,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(contents.items())},
    }
    index_bytes = json.dumps(index, ensure_ascii=False, indent=2, sort_keys=True).encode()
    members = {INDEX: index_bytes, **{PREFIX + name: data for name, data in contents.items()}}
    if signing_key is not None:
        members[SIGNATURE] = base64.b64encode(_private_key(signing_key).sign(index_bytes)) + b"\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    Path(out).write_bytes(buf.getvalue())
    return index


def open_bundle(data: bytes, verification_key: str | Path | None = None, into: str | Path | None = None) -> Bundle:
    """Verify a bundle's bytes and unpack its rule set into a new directory (under `into`).

    Refused (BundleError) when it is not a bundle, a file is missing, extra or altered,
    or — given a verification key — it is unsigned or its signature does not verify.
    """
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError(f"the bundle has {len(data)} bytes, more than {MAX_BUNDLE_BYTES}")
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            total = 0
            for info in tar:
                if not info.isfile():
                    raise BundleError(f"{info.name}: only regular files belong in a bundle")
                name = info.name
                if name.startswith("/") or ".." in Path(name).parts or name in members:
                    raise BundleError(f"{name}: not a plain, unique path inside the bundle")
                total += info.size
                if total > MAX_BUNDLE_BYTES:
                    raise BundleError(f"the unpacked bundle passes {MAX_BUNDLE_BYTES} bytes")
                members[name] = tar.extractfile(info).read()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise BundleError(f"not a bundle (tar.gz): {err}") from None
    index_bytes = members.pop(INDEX, None)
    if index_bytes is None:
        raise BundleError(f"no {INDEX} in the bundle")
    signature = members.pop(SIGNATURE, None)
    if verification_key is not None:
        if signature is None:
            raise BundleError(f"the bundle is not signed ({SIGNATURE} missing) and a verification key is set")
        _verify(verification_key, index_bytes, signature)
    try:
        index = json.loads(index_bytes)
        listed = dict(index["files"])
        name, version = str(index["name"]), str(index["version"])
    except (ValueError, KeyError, TypeError) as err:
        raise BundleError(f"{INDEX} is not a bundle index: {err}") from None
    files = {k.removeprefix(PREFIX): v for k, v in members.items() if k.startswith(PREFIX)}
    extra = sorted(set(members) - {PREFIX + k for k in listed})
    missing = sorted(set(listed) - set(files))
    if extra or missing:
        raise BundleError(f"the bundle's files are not the ones {INDEX} lists: extra {extra}, missing {missing}")
    for rel, digest in listed.items():
        if hashlib.sha256(files[rel]).hexdigest() != digest:
            raise BundleError(f"{PREFIX}{rel}: its SHA-256 is not the one {INDEX} lists (altered)")
    root = Path(tempfile.mkdtemp(prefix="dispatch-bundle-", dir=into)) / name.replace("/", "_")
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return Bundle(root, name, version, signature is not None)


def generate_key(private: str | Path, public: str | Path) -> None:
    """A new Ed25519 key pair, as PEM files: the private one signs bundles, the public one verifies them."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    Path(private).write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    Path(public).write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _private_key(path: str | Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as err:
        raise BundleError(f"{path}: not a readable PEM private key ({err})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError(f"{path}: not an Ed25519 key")
    return key


def _verify(path: str | Path, index_bytes: bytes, signature: bytes) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError, TypeError) as err:
        raise BundleError(f"{path}: not a readable PEM public key ({err})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError(f"{path}: not an Ed25519 key")
    try:
        key.verify(base64.b64decode(signature.strip(), validate=True), index_bytes)
    except (InvalidSignature, ValueError):
        raise BundleError(f"the signature does not verify with {Path(path).name}: refused") from None
