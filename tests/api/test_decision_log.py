"""The decision log: its lines are the answers given (count and content), and dispatch audit re-runs them."""

from __future__ import annotations

import json
import shutil

from dispatch.api.settings import Settings
from dispatch.cli import main as dispatch_main
from tests.api.conftest import Server

CASE = {"id": "L1", "event": "06010002", "area": "110115005001", "source": "grid", "reported_at": "2025-12-01T08:00:00+08:00"}


def test_every_decision_is_one_line_equal_to_its_answer(tmp_path, api_rules, capsys):
    log = tmp_path / "decisions.jsonl"
    sent = []
    with Server(Settings(rules=str(api_rules), decision_log=str(log), decision_log_caller_header="X-Caller")) as s:
        s.wait_ready()
        for j in range(5):
            case = dict(CASE, id=f"S{j}")
            r = s.client.post("/v1/dispatch", case, headers={"x-caller": "grid-system", "x-request-id": f"r{j}"})
            assert r.status == 200
            sent.append((case, r.json, None, f"r{j}"))
        assert s.client.dispatch(dict(CASE, area="nowhere")).status == 422  # refused: no decision, no line
        batch = [dict(CASE, id=f"B{j}") for j in range(4)] + [dict(CASE, id="B-bad", event="99")]
        pretty = json.dumps({"cases": batch}, indent=2)  # over several lines: each logged line is one line
        r = s.client.post("/v1/dispatch", pretty, headers={"content-type": "application/json"})
        assert r.status == 200
        sent += [(c, a, j, None) for j, (c, a) in enumerate(zip(batch, r.json["results"]))]
        single_pretty = json.dumps(dict(CASE, id="P1"), indent=2)
        r = s.client.post("/v1/dispatch", single_pretty, headers={"content-type": "application/json"})
        sent.append((dict(CASE, id="P1"), r.json, None, None))
        metrics = s.client.get("/metrics").body.decode()
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(sent) == 5 + 5 + 1
    docs = [json.loads(line) for line in lines]
    for doc, (case, answer, index, request_id) in zip(docs, sent):
        assert doc["case"] == case and doc["answer"] == answer and doc["index"] == index
        assert doc["ruleset"] == answer.get("ruleset", doc["ruleset"]) and doc["latency_ms"] >= 0
        assert doc["request_id"] == request_id
    assert [d["caller"] for d in docs[:5]] == ["grid-system"] * 5
    assert len({d["decision_id"] for d in docs}) == len(docs)
    assert "dispatch_decision_log_dropped_total 0" in metrics

    # dispatch audit finds a case and re-runs it: the same answer on the same rule set ...
    assert dispatch_main(["audit", str(log), "--id", "S3", "--rules", str(api_rules)]) == 0
    out = capsys.readouterr().out
    assert "decision d-" in out and "the same answer" in out
    assert dispatch_main(["audit", str(log), "--id", "B-bad", "--rules", str(api_rules)]) == 0
    # ... and says what differs on another
    changed = tmp_path / "changed"
    shutil.copytree(api_rules, changed)
    f = changed / "rules" / "municipal.csv"
    f.write_text(f.read_text(encoding="utf-8").replace("MUN-1,06010,110115,,,dx-cgw,", "MUN-1,06010,110115,,,dx-cgzf,"),
                 encoding="utf-8")  # fmt: skip
    assert dispatch_main(["audit", str(log), "--id", "S3", "--rules", str(changed)]) == 1
    out = capsys.readouterr().out
    assert "DIFFERS" in out and "department: 'dx-cgw' then, 'dx-cgzf' now" in out
    assert dispatch_main(["audit", str(log), "--id", "nobody"]) == 1
