"""The text of dispatch audit: each decision found, and what a re-run says."""

from __future__ import annotations

from dispatch.tools.audit.audit import Logged, Rerun, summary


def render_found(logged: Logged) -> str:
    line = logged.line
    s = summary(line.get("answer") or {})
    what = (
        f"error {s['error']}"
        if "error" in s
        else (f"{s['status']} -> {s['department']} by rule {s['rule']}, due {s['due']}")
    )
    return (
        f"{logged.place}: decision {line.get('decision_id')} at {line.get('time')}"
        f" (rule set {line.get('ruleset')}, caller {line.get('caller')}, request {line.get('request_id')})\n"
        f"  case   {line.get('case')}\n"
        f"  answer {what}"
    )


def render_rerun(r: Rerun) -> str:
    logged_version = r.logged.line.get("ruleset")
    note = "" if logged_version == r.version else f" (the decision was made by {logged_version})"
    if not r.differences:
        return f"  re-run on rule set {r.version}{note}: the same answer"
    return f"  re-run on rule set {r.version}{note}: DIFFERS\n" + "\n".join(f"    {d}" for d in r.differences)
