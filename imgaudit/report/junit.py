"""`--format junit`: one test case per rule, so GitLab, Jenkins and other CI systems that read
JUnit XML list the size rules next to the tests. A failed rule is a `<failure>`, a rule that
could not be measured is `<skipped>`."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from imgaudit.gate import CiReport
from imgaudit.gate.rules import Outcome

SUITE = "imgaudit"


def render(ci: CiReport) -> str:
    results = ci.gate.results
    counts = {
        "tests": str(len(results)),
        "failures": str(len(ci.gate.failed)),
        "errors": "0",
        "skipped": str(len(ci.gate.skipped)),
    }
    suites = ET.Element("testsuites", {"name": SUITE, **counts})
    suite = ET.SubElement(suites, "testsuite", {"name": f"{SUITE} {ci.figures.reference}", **counts})
    for rule in results:
        # The limit in the name: two limits of one rule (a size and a percentage) stay two cases.
        name = (
            f"{rule.name} <= {rule.limit_spec}"
            if rule.key != "min-efficiency"
            else f"{rule.name} >= {rule.limit_spec}"
        )
        case = ET.SubElement(suite, "testcase", {"classname": f"{SUITE}.gate", "name": name})
        if rule.outcome is Outcome.FAILED:
            failure = ET.SubElement(case, "failure", {"message": rule.message, "type": rule.key})
            failure.text = rule.message
        elif rule.outcome is Outcome.SKIPPED:
            ET.SubElement(case, "skipped", {"message": rule.message})
        else:
            ET.SubElement(case, "system-out").text = rule.message
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
