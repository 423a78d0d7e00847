# -*- coding: utf-8 -*-
"""Check an Autobahn TestSuite report (runs under the wstest Python 2.7 venv,
so that the expected case list comes from wstest's own pattern rules).

    ab_check.py SPEC.json AGENT LABEL_PEER LABEL_ROLE

A case passes when behavior is OK, NON-STRICT or INFORMATIONAL and
behaviorClose is OK or INFORMATIONAL. Anything else, or an expected case
missing from <outdir>/index.json, fails; the reason is taken from the per-case
JSON file. Prints `RESULT<TAB>peer<TAB>role<TAB>passed<TAB>failed`.
"""
from __future__ import print_function

import io
import json
import os
import re
import sys

from autobahntestsuite.case import Cases, CaseCategories, CaseSubCategories, CaseBasename
from autobahntestsuite.caseset import CaseSet

PASS_BEHAVIOR = ("OK", "NON-STRICT", "INFORMATIONAL")
PASS_CLOSE = ("OK", "INFORMATIONAL")


def key(case_id):
    return tuple(int(x) for x in case_id.split("."))


def short(s, n=300):
    s = u" ".join(u"{}".format(s).split())
    return s if len(s) <= n else s[: n - 3] + u"..."


def main():
    spec_path, agent, peer, role = sys.argv[1:5]
    spec_dir = os.path.dirname(os.path.abspath(spec_path))
    with io.open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    outdir = os.path.join(spec_dir, spec["outdir"])
    cs = CaseSet("x", CaseBasename, Cases, CaseCategories, CaseSubCategories)
    expected = cs.parseSpecCases(spec)
    index_path = os.path.join(outdir, "index.json")
    try:
        with io.open(index_path, encoding="utf-8") as f:
            index = json.load(f).get(agent, {})
    except (IOError, ValueError) as e:
        index = {}
        print("no usable report %s: %s" % (index_path, e))
    passed, failed, nonstrict, info = [], [], [], []
    for cid in expected:
        r = index.get(cid)
        if r is None:
            failed.append((cid, "MISSING", "", "case has no result in index.json"))
            continue
        b, bc = r.get("behavior"), r.get("behaviorClose")
        if b in PASS_BEHAVIOR and bc in PASS_CLOSE:
            passed.append(cid)
            if b == "NON-STRICT":
                nonstrict.append(cid)
            if b == "INFORMATIONAL" or bc == "INFORMATIONAL":
                info.append(cid)
            continue
        reason = ""
        rf = r.get("reportfile")
        if rf:
            try:
                with io.open(os.path.join(outdir, rf), encoding="utf-8") as f:
                    d = json.load(f)
                parts = []
                if b not in PASS_BEHAVIOR:
                    parts.append(u"result: %s" % short(d.get("result", ""), 200))
                    exp, rec = d.get("expected"), d.get("received")
                    if exp is not None:
                        parts.append(u"expected: %s" % short(json.dumps(exp), 160))
                    if rec is not None:
                        parts.append(u"received: %s" % short(json.dumps(rec), 160))
                if bc not in PASS_CLOSE:
                    parts.append(u"close: %s" % short(d.get("resultClose", ""), 200))
                parts.append(u"remoteCloseCode=%s wasClean=%s" % (d.get("remoteCloseCode"), d.get("wasClean")))
                ext = d.get("httpResponse", "")
                for line in ext.splitlines():
                    if line.lower().startswith("sec-websocket-extensions"):
                        parts.append(line.strip())
                reason = u"; ".join(parts)
            except (IOError, ValueError) as e:
                reason = u"(per-case report unreadable: %s)" % e
        failed.append((cid, b, bc, reason))
    extra = sorted(set(index) - set(expected), key=key)
    print("%s %s: %d expected cases, %d passed, %d failed (NON-STRICT %d, INFORMATIONAL %d)"
          % (peer, role, len(expected), len(passed), len(failed), len(nonstrict), len(info)))
    if nonstrict:
        print("  NON-STRICT: " + " ".join(nonstrict))
    if extra:
        print("  (%d unexpected extra cases in the report)" % len(extra))
    # Failures grouped by reason (numbers masked), most frequent first.
    groups = {}
    for cid, b, bc, reason in failed:
        k = re.sub(r"\d+", "N", u"%s %s %s" % (b, bc, reason))
        groups.setdefault(k, []).append((cid, b, bc, reason))
    for members in sorted(groups.values(), key=lambda m: -len(m)):
        ids = [m[0] for m in members]
        shown = " ".join(ids[:12]) + (" ... (%d more)" % (len(ids) - 12) if len(ids) > 12 else "")
        _, b, bc, reason = members[0]
        line = u"  FAIL x%d [%s]: behavior=%s close=%s %s" % (len(ids), shown, b, bc, reason)
        print(line.encode("utf-8") if sys.version_info[0] == 2 else line)
    if failed:
        ids = [c for c, _, _, _ in failed]
        print("  failed case ids: " + " ".join(ids))
    print("RESULT\t%s\t%s\t%d\t%d" % (peer, role, len(passed), len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
