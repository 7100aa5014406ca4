"""History files: every report time the service reads, places of what is wrong, unknown codes counted."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from dispatch.core.dispatcher import Dispatcher, day_of
from dispatch.core.errors import HistoryError
from dispatch.core.history import encode_cases, read_case_columns, read_history
from dispatch.core.load import load_ruleset

MINI = Path(__file__).parents[1] / "data" / "mini"

# every form datetime.fromisoformat (and so POST /v1/dispatch) reads: the kernel reads the
# first ones, the rest fall back to Python
TIMES = [
    "2026-03-04T13:00:00+08:00",
    "2026-03-04T23:30:00Z",  # the next day in Shanghai
    "2026-03-04 08:15:00",  # no zone: the rule set's
    "2026-03-04",
    "20260304T233000Z",  # basic format
    "2026-W10-3T10:00:00+08:00",  # a week date
    "2026-03-04T13:00:00.123456+05:30",
]


@pytest.fixture(scope="module")
def dispatcher() -> Dispatcher:
    return Dispatcher(load_ruleset(MINI))


def _write(tmp_path: Path, times: list[str], event: str = "06010001") -> Path:
    path = tmp_path / "cases.csv"
    rows = [f"c{j},{event},110115005,grid,{t}" for j, t in enumerate(times)]
    path.write_text("id,event,area,source,reported_at\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_every_time_the_service_reads_gives_its_day(tmp_path, dispatcher):
    history = read_history(_write(tmp_path, TIMES), dispatcher)
    want = [day_of(dispatcher.ruleset, datetime.fromisoformat(t)) for t in TIMES]
    assert history.days.tolist() == want
    assert want[1] == want[0] + 1  # 23:30 UTC is the next local day: the zone was applied


def test_a_bad_time_names_file_line_and_column(tmp_path, dispatcher):
    path = _write(tmp_path, [TIMES[0], "yesterday", TIMES[2], "2026-02-30"])
    with pytest.raises(HistoryError) as caught:
        read_history(path, dispatcher)
    assert [str(d.place) for d in caught.value.diagnostics] == [f"{path}:3:5", f"{path}:5:5"]
    assert all(d.code == "value.datetime" for d in caught.value.diagnostics)


def test_unknown_codes_are_counted_by_their_first_unknown_field(tmp_path, dispatcher):
    path = tmp_path / "cases.csv"
    path.write_text("reported_at,source,area,event,id\n"  # any column order
                    "2026-03-04,grid,110115005,06010001,ok\n"
                    "2026-03-04,grid,999,99999999,both-bad\n"
                    "2026-03-04,grid,999,06010001,area-bad\n"
                    "2026-03-04,fax,110115005,06010001,source-bad\n", encoding="utf-8")  # fmt: skip
    history = read_history(path, dispatcher)
    assert len(history) == 1 and history.unknown == {"event": 1, "area": 1, "source": 1}
    enc = encode_cases(read_case_columns(path), dispatcher)
    assert enc.known.tolist() == [True, False, False, False]
    assert enc.items[0] == dispatcher.item_codes.index["06010001"]
    assert enc.cols[0] == dispatcher.area_codes.index["110115005"]


def test_quoted_and_plain_files_read_alike(tmp_path, dispatcher):
    plain = _write(tmp_path, TIMES)
    quoted = tmp_path / "quoted.csv"
    lines = plain.read_text(encoding="utf-8").splitlines()
    quoted.write_text("\ufeff" + "\r\n".join([lines[0]] + [",".join(f'"{v}"' for v in ln.split(",")) for ln in lines[1:]]),
                      encoding="utf-8")  # fmt: skip
    a, b = read_history(plain, dispatcher), read_history(quoted, dispatcher)
    for field in ("items", "cols", "srcs", "days", "areas"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
