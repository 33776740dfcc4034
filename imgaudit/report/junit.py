"""`--format junit`: one test case per rule, so GitLab, Jenkins and other CI systems that read
JUnit XML list the size rules next to the tests. A failed rule is a `<failure>`, a rule that
could not be measured is `<skipped>`.

With `--fail-on`, the findings are test cases of their own suite (what a reviewer wants to see
fail is the finding, not the rule): each reported finding fails when a `--fail-on` catches it,
and passes, listed, when none does. The `--fail-on` rules are then not repeated as cases."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from imgaudit.gate.rules import fail_on_matches
from imgaudit.gate_result import GateResult, Outcome, RuleResult
from imgaudit.model import Finding
from imgaudit.report.units import human_bytes
from imgaudit.report.view import AuditView

SUITE = "imgaudit"
FAIL_ON = "fail-on"


def _counts(cases: list[ET.Element]) -> dict[str, str]:
    return {
        "tests": str(len(cases)),
        "failures": str(sum(1 for c in cases if c.find("failure") is not None)),
        "errors": "0",
        "skipped": str(sum(1 for c in cases if c.find("skipped") is not None)),
    }


def _rule_case(rule: RuleResult) -> ET.Element:
    # The limit in the name: two limits of one rule (a size and a percentage) stay two cases.
    relation = ">=" if rule.key == "min-efficiency" else "<="
    case = ET.Element(
        "testcase", {"classname": f"{SUITE}.gate", "name": f"{rule.name} {relation} {rule.limit_spec}"}
    )
    if rule.outcome is Outcome.FAILED:
        ET.SubElement(case, "failure", {"message": rule.message, "type": rule.key}).text = rule.message
    elif rule.outcome is Outcome.SKIPPED:
        ET.SubElement(case, "skipped", {"message": rule.message})
    else:
        ET.SubElement(case, "system-out").text = rule.message
    return case


def _finding_case(finding: Finding, subjects: list[str]) -> ET.Element:
    saving = human_bytes(finding.estimated_savings_bytes) if finding.estimated_savings_bytes else "no bytes"
    case = ET.Element(
        "testcase", {"classname": f"{SUITE}.findings", "name": f"{finding.id} ({finding.severity.value})"}
    )
    text = f"{finding.title} ({saving}). Fix: {finding.fix.text}"
    caught = [s for s in subjects if fail_on_matches(s, finding.id, finding.severity.value)]
    if caught:
        message = f"{finding.title}; fails --fail-on {', '.join(caught)}"
        ET.SubElement(case, "failure", {"message": message, "type": FAIL_ON}).text = text
    else:
        ET.SubElement(case, "system-out").text = text
    return case


def _suite(parent: ET.Element, name: str, cases: list[ET.Element]) -> None:
    suite = ET.SubElement(parent, "testsuite", {"name": name, **_counts(cases)})
    suite.extend(cases)


def render(view: AuditView) -> str:
    gate = view.gate or GateResult(())
    reference = view.report.image.reference
    subjects = [r.subject for r in gate.results if r.key == FAIL_ON]
    rule_cases = [_rule_case(r) for r in gate.results if not (subjects and r.key == FAIL_ON)]
    finding_cases = [_finding_case(f, subjects) for f in view.report.findings] if subjects else []
    suites = ET.Element("testsuites", {"name": SUITE, **_counts(rule_cases + finding_cases)})
    if rule_cases or not finding_cases:
        _suite(suites, f"{SUITE} {reference}", rule_cases)
    if finding_cases:
        _suite(suites, f"{SUITE} findings {reference}", finding_cases)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
