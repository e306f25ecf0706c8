"""Audit the installed Python dependencies for known vulnerabilities with pip-audit.

Policy (docs/security.md, "Dependency audit"): any known vulnerability fails the run unless
`.ci/audit-allow.txt` lists its id with a reason and a review date that has not passed. When
the vulnerability service cannot be reached (an offline or mirror-only machine), nothing can
be audited: the run says so loudly and passes, unless CONTEXTIQ_REQUIRE_AUDIT=true (set it
where the network allows, as the GitHub workflow does), in which case it fails.
"""

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALLOW = ROOT / ".ci" / "audit-allow.txt"


def allowed() -> dict[str, tuple[str, date]]:
    """`ID  review-by(YYYY-MM-DD)  reason...` per line; `#` starts a comment."""
    entries: dict[str, tuple[str, date]] = {}
    for line in ALLOW.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            vuln_id, review_by, reason = line.split(maxsplit=2)
            entries[vuln_id] = (reason, date.fromisoformat(review_by))
    return entries


def main() -> int:
    pip_audit = Path(sys.executable).with_name("pip-audit")
    run = subprocess.run(
        [str(pip_audit), "--progress-spinner", "off", "--skip-editable", "-f", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        print(f"pip-audit failed:\n{run.stderr}", file=sys.stderr)
        return 1
    deps = report["dependencies"]
    audited = [d for d in deps if "skip_reason" not in d]
    if not audited:
        message = (
            f"dependency audit NOT RUN: the vulnerability service could not be reached for any "
            f"of {len(deps)} packages (offline or mirror-only machine)"
        )
        if os.environ.get("CONTEXTIQ_REQUIRE_AUDIT", "").lower() == "true":
            print(f"error: {message}", file=sys.stderr)
            return 1
        print(f"WARNING: {message}; set CONTEXTIQ_REQUIRE_AUDIT=true to make this fail")
        return 0
    allow, failures = allowed(), []
    for dep in audited:
        for vuln in dep.get("vulns", []):
            ids = [vuln["id"], *vuln.get("aliases", [])]
            entry = next((allow[i] for i in ids if i in allow), None)
            if entry is not None and entry[1] >= date.today():
                print(f"allowed until {entry[1]}: {dep['name']} {vuln['id']} ({entry[0]})")
                continue
            fix = ", ".join(vuln.get("fix_versions", [])) or "no fixed version yet"
            failures.append(f"{dep['name']} {dep['version']}: {vuln['id']} (fixed in {fix})")
    skipped = len(deps) - len(audited)
    print(f"dependency audit: {len(audited)} packages checked, {skipped} not on the index")
    for failure in failures:
        print(f"VULNERABLE {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
