"""Sources: where a worker gets its rule set — a directory, a bundle file, or a bundle URL — and whether it changed.

`changed()` is the cheap look a poll takes (a directory's files' sizes and times, a
file's, an HTTP conditional GET with the last ETag); `fetch()` gives the rule directory
to load (a bundle is verified and unpacked into a private directory first). A bundle
that cannot be fetched or trusted raises RuleSetError with a `bundle.*` diagnostic, so
the service refuses it as it refuses an invalid directory: the old set keeps serving,
/readyz and the reload's 422 say why, /metrics counts it.

The URL follows OPA's bundle protocol where it matters here: a plain GET of one
artifact, `If-None-Match` with the last `ETag` (304: nothing new), polled every
DISPATCH_RULES_POLL seconds, backing off (doubling, jittered, at most 5 minutes) while
it fails. Not followed: OPA's discovery, delta bundles, and its JWT signature format
(ours: core/bundle.py).
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from dispatch.core.bundle import BundleError, open_bundle
from dispatch.core.errors import Diagnostic, Place, RuleSetError

MAX_BACKOFF = 300.0


class Source:
    """A directory of rule files, read in place."""

    def __init__(self, location: str):
        self.location = location
        self._seen: tuple | None = None
        self.failures = 0  # consecutive fetches that failed: the poll backs off

    def changed(self) -> bool:
        return self._seen is not None and fingerprint(self.location) != self._seen

    def fetch(self) -> str:
        self._seen = fingerprint(self.location)
        return self.location

    def backoff(self, interval: float) -> float:
        return min(MAX_BACKOFF, interval * 2 ** min(self.failures, 10)) if self.failures else interval


class BundleFileSource(Source):
    """A bundle file: verified and unpacked anew whenever the file changes."""

    def __init__(self, location: str, verification_key: str | None):
        super().__init__(location)
        self.key = verification_key or None
        self._unpacked: list[Path] = []

    def changed(self) -> bool:
        return self._seen is not None and _stat(self.location) != self._seen

    def fetch(self) -> str:
        self._seen = _stat(self.location)
        try:
            data = Path(self.location).read_bytes()
        except OSError as err:
            raise _refused(
                "bundle.unreadable", f"cannot read the bundle: {err.strerror or err}", self.location
            ) from None
        return self._unpack(data)

    def _unpack(self, data: bytes) -> str:
        try:
            bundle = open_bundle(data, self.key)
        except BundleError as err:
            raise _refused("bundle.invalid", str(err), self.location) from None
        self._unpacked.append(bundle.root.parent)
        while len(self._unpacked) > 2:  # the one served and the one before it: requests may still read it
            shutil.rmtree(self._unpacked.pop(0), ignore_errors=True)
        return str(bundle.root)


class BundleUrlSource(BundleFileSource):
    """A bundle served over HTTP(S), fetched with If-None-Match."""

    def __init__(self, location: str, verification_key: str | None):
        super().__init__(location, verification_key)
        self.etag: str | None = None
        self._fresh: bytes | None = None

    def changed(self) -> bool:
        """A conditional GET: True (and the bytes kept for fetch) when the server has something new."""
        if self._seen is None:
            return False
        try:
            data = self._get()
        except RuleSetError:
            self.failures += 1
            return False
        if data is None:
            self.failures = 0
            return False
        self._fresh = data
        return True

    def fetch(self) -> str:
        data, self._fresh = self._fresh, None
        self._seen = ()
        if data is None:
            data = self._get(conditional=False)
        self.failures = 0
        return self._unpack(data)

    def _get(self, conditional: bool = True) -> bytes | None:
        headers = {"If-None-Match": self.etag} if conditional and self.etag else {}
        request = urllib.request.Request(self.location, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                data = r.read(MAX_DOWNLOAD + 1)
                if len(data) > MAX_DOWNLOAD:
                    raise _refused("bundle.invalid", f"the bundle passes {MAX_DOWNLOAD} bytes", self.location)
                self.etag = r.headers.get("ETag") or self.etag
                return data
        except urllib.error.HTTPError as err:
            if err.code == 304:
                return None
            raise _refused("bundle.unreachable", f"HTTP {err.code} from the bundle server", self.location) from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise _refused("bundle.unreachable", f"cannot fetch the bundle: {reason}", self.location) from None


MAX_DOWNLOAD = 256 * 2**20


def source_for(location: str, verification_key: str = "") -> Source:
    """The source a DISPATCH_RULES value names: an http(s) URL, a bundle file (.tar.gz, .tgz), or a directory."""
    if location.startswith(("http://", "https://")):
        return BundleUrlSource(location, verification_key)
    if location.endswith((".tar.gz", ".tgz")) or os.path.isfile(location):
        return BundleFileSource(location, verification_key)
    return Source(location)


def fingerprint(root: str) -> tuple:
    """What a poll compares: every file under the rule directory with its size and modification time
    (a change in any of them is worth a load; the load itself then reads a snapshot)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            out.append((path, st.st_size, st.st_mtime_ns))
    return tuple(out)


def _stat(path: str) -> tuple:
    try:
        st = os.stat(path)
    except OSError:
        return ()
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _refused(code: str, message: str, location: str) -> RuleSetError:
    return RuleSetError([Diagnostic(code, message, Place(_label(location)))])


def _label(location: str) -> str:
    """How answers name a source: a URL as it is, a file by its name only (not its place on disk)."""
    return location if "://" in location else Path(location).name
