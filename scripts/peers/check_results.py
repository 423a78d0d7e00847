"""Hold a conformance part's RESULT lines to what the part must produce.

    check_results.py RESULT_FILE < EXPECTED

EXPECTED has one `peer<TAB>role<TAB>minimum passed` line per RESULT line the
part must leave. The result file is rewritten: a line that passed fewer than
its minimum (or nothing at all: the minimum is never below 1) gets at least
one failure, and every expected line that is missing is added as failed. So a
peer run that ran no case, or a part that stopped half-way, cannot pass.
Prints a FAIL line for each such finding.
"""
import sys


def main():
    path = sys.argv[1]
    expected = {}
    for line in sys.stdin.read().splitlines():
        if line.strip():
            peer, role, least = line.split("\t")
            expected[(peer, role)] = int(least)
    out, seen = [], set()
    with open(path) as f:
        lines = f.read().splitlines()
    for line in lines:
        _, peer, role, p, f = line.split("\t")
        p, f = int(p), int(f)
        seen.add((peer, role))
        least = max(expected.get((peer, role), 1), 1)
        if p < least:
            print(f"FAIL [{peer} {role}] passed {p}, needs at least {least}: counted as a failure")
            role += f" (too few passed: {p} < {least})"
            f = max(f, 1)
        out.append(f"RESULT\t{peer}\t{role}\t{p}\t{f}")
    for (peer, role), least in expected.items():
        if (peer, role) not in seen:
            print(f"FAIL [{peer} {role}] produced no RESULT line")
            out.append(f"RESULT\t{peer}\t{role} (missing)\t0\t1")
    with open(path, "w") as f:
        f.write("".join(line + "\n" for line in out))


if __name__ == "__main__":
    main()
