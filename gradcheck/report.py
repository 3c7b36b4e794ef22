"""Reports: per layer, the worst status of every check over all examples, the
findings of the (shrunk) failing example, and renderings as text, JSON, JUnit XML."""

from __future__ import annotations

import html
import json
import os
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from .compare import Entry
from .findings import SEVERITY, Finding, describe, worst

OUTPUT_LINES = 50  # of a failing layer's captured output, shown in the report
# Checks whose message is shown even when they pass: they say how the layer was checked.
INFORMATIVE = frozenset({"tied"})


@dataclass
class CheckSummary:
    check: str
    status: str = "skip"
    ratio: float | None = None  # worst error / tolerance over the examples
    message: str = ""


@dataclass
class LayerReport:
    name: str
    checks: dict[str, CheckSummary] = field(default_factory=dict)
    failures: list[Finding] = field(default_factory=list)  # of the failing (shrunk) example
    warnings: list[Finding] = field(default_factory=list)
    examples: int = 0
    example: str | None = None  # readable failing example
    replay: str | None = None
    skipped: str | None = None  # why the whole layer was skipped
    shrunk: bool = True  # False when the failing example was reported as found (a hang)
    first_failure: int | None = None  # examples run until the first failure
    first_warning: int | None = None  # ... and until the first warning
    cls: str | None = None  # the class's own name when checked as another spec (--layers MINE=KNOWN)
    stopped: str | None = None  # e.g. "shrinking stopped at the budget ..."
    output: str | None = None  # the layer's captured stdout/stderr (last lines), kept when it failed
    output_lines: int = 0  # how many lines it wrote in all
    seed: int | None = None  # the Hypothesis seed the layer ran under
    repro: str | None = None  # where --save-repro wrote the reproducer, or why it wrote none
    # The failing Example itself, in the process that ran it (for --save-repro); never serialized.
    failing: Any = field(default=None, repr=False, compare=False)

    @property
    def label(self) -> str:
        return self.name if not self.cls else f"{self.cls} as {self.name}"

    @property
    def status(self) -> str:
        if self.skipped:
            return "skip"
        return worst([c.status for c in self.checks.values()] + ["pass"])

    def add(self, findings: list[Finding], example=None) -> None:
        """Fold one example's findings in. A warning is named once per check (the
        first message); on a failing example, the checks it skipped because of a
        root cause show as "skipped: see <check>"."""
        self.examples += 1
        bad = [f for f in findings if f.status == "fail"]
        for f in findings:
            s = self.checks.setdefault(f.check, CheckSummary(f.check))
            if SEVERITY[f.status] > SEVERITY[s.status] or (f.status == s.status and not s.message):
                s.status, s.message = f.status, f.message
            elif bad and f.status == "skip" and f.message.startswith("skipped: see") and s.status == "pass":
                s.status, s.message = f.status, f.message
            if f.ratio is not None and f.ratio == f.ratio:
                s.ratio = f.ratio if s.ratio is None else max(s.ratio, f.ratio)
            if f.status == "warn" and all(w.check != f.check for w in self.warnings):
                self.warnings.append(f)
        if bad and self.first_failure is None:
            self.first_failure = self.examples
        if self.first_warning is None and any(f.status == "warn" for f in findings):
            self.first_warning = self.examples
        if bad:
            self.failures = bad
            if example is not None:
                self.set_example(bad, example)

    def set_example(self, findings: list[Finding], example) -> None:
        """The example to show for `findings`: the one a finding names (e.g. every
        label ignored, for the mask check) or else the example they came from."""
        shown = next((f.example for f in findings if f.example is not None), None) or example
        self.example = describe(shown)
        self.failing = shown if hasattr(shown, "values") else None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "class": self.cls or self.name,
            "status": self.status,
            "examples": self.examples,
            "first_failure_at": self.first_failure,
            "checks": [
                {"check": c.check, "status": c.status, "worst_ratio": _num(c.ratio), "message": c.message}
                for c in self.checks.values()
            ],
            "findings": [f.to_dict() for f in self.failures + self.warnings],
            "example": self.example,
            "replay": self.replay,
            "skipped": self.skipped,
            "stopped": self.stopped,
            "seed": self.seed,
            "output": self.output,
            "repro": self.repro,
        }

    def to_wire(self) -> dict:
        """Everything, for the worker's pipe (`from_wire` rebuilds it)."""
        return {
            **self.to_dict(),
            "checks": [
                {"check": c.check, "status": c.status, "ratio": c.ratio, "message": c.message}
                for c in self.checks.values()
            ],
            "failures": [f.to_dict() for f in self.failures],
            "warnings": [f.to_dict() for f in self.warnings],
            "shrunk": self.shrunk,
            "first_warning": self.first_warning,
            "cls": self.cls,
            "output_lines": self.output_lines,
        }

    @classmethod
    def from_wire(cls, d: dict) -> LayerReport:
        r = cls(d["name"], cls=d.get("cls"))
        r.checks = {c["check"]: CheckSummary(c["check"], c["status"], c["ratio"], c["message"]) for c in d["checks"]}
        r.failures = [finding_from_dict(f) for f in d["failures"]]
        r.warnings = [finding_from_dict(f) for f in d["warnings"]]
        r.examples, r.example, r.replay, r.skipped = d["examples"], d["example"], d["replay"], d["skipped"]
        r.shrunk, r.first_failure, r.first_warning = d["shrunk"], d["first_failure_at"], d["first_warning"]
        r.stopped, r.output, r.output_lines, r.seed = d["stopped"], d["output"], d["output_lines"], d["seed"]
        r.repro = d.get("repro")
        return r


def finding_from_dict(d: dict) -> Finding:
    """The inverse of Finding.to_dict."""
    known = {f.name for f in fields(Finding)}
    kw = {k: v for k, v in d.items() if k in known}
    kw["axes"] = tuple(kw.get("axes", ()))
    if kw.get("ratio") == "inf":
        kw["ratio"] = float("inf")
    entry_fields = {f.name for f in fields(Entry)}
    kw["entries"] = [
        Entry(**{**{k: v for k, v in e.items() if k in entry_fields}, "index": tuple(e["index"])})
        for e in kw.get("entries", [])
    ]
    return Finding(**kw)


def _num(x):
    if x is None:
        return None
    return "inf" if x == float("inf") else x


@dataclass
class Report:
    layers: list[LayerReport]
    strict: bool = False
    meta: dict = field(default_factory=dict)
    complete: bool = True  # False: the run was interrupted; `layers` holds what ran
    not_checked: list[dict] = field(default_factory=list)  # {"class", "reason"}: found, deliberately not checked
    missing: list[str] = field(default_factory=list)  # layers planned but not run (interrupted)

    @property
    def passed(self) -> bool:
        bad = {"fail", "warn"} if self.strict else {"fail"}
        return not any(layer.status in bad for layer in self.layers)

    def layer(self, name: str) -> LayerReport:
        return next(r for r in self.layers if r.name == name)

    def to_dict(self) -> dict:
        return {
            "passed": self.passed and self.complete,
            "complete": self.complete,
            "strict": self.strict,
            "layers": [r.to_dict() for r in self.layers],
            "not_checked": self.not_checked,
            "not_run": self.missing,
            **self.meta,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_junit(self) -> str:
        """One testsuite; one testcase per layer and check (classname = layer)."""
        suite = ET.Element("testsuite", name="gradcheck")
        props = ET.SubElement(suite, "properties")
        for k, v in [("complete", self.complete), *self.meta.items()]:
            ET.SubElement(props, "property", name=str(k), value=json.dumps(v) if not isinstance(v, str) else v)
        counts = {"tests": 0, "failures": 0, "skipped": 0}
        for r in self.layers:
            items = list(r.checks.values()) or [CheckSummary("all", "skip", message=r.skipped or "not run")]
            for c in items:
                case = ET.SubElement(suite, "testcase", classname=r.label, name=c.check)
                counts["tests"] += 1
                if c.status == "fail" or (self.strict and c.status == "warn"):
                    counts["failures"] += 1
                    el = ET.SubElement(case, "failure", message=c.message)
                    el.text = "\n".join(
                        [f.message for f in r.failures if f.check == c.check] + ([r.example] if r.example else [])
                    )
                elif c.status == "skip":
                    counts["skipped"] += 1
                    ET.SubElement(case, "skipped", message=c.message or r.skipped or "")
                elif c.status == "warn":
                    ET.SubElement(case, "system-out").text = "warning: " + c.message
        for name in self.missing:  # planned, never run: a failure, so an interrupted run is not green
            case = ET.SubElement(suite, "testcase", classname=name, name="all")
            counts["tests"] += 1
            counts["failures"] += 1
            ET.SubElement(case, "failure", message="not run: the run was interrupted")
        for k, v in counts.items():
            suite.set(k, str(v))
        return ET.tostring(suite, encoding="unicode", xml_declaration=True)

    def __str__(self) -> str:
        return self.render()

    def _repr_html_(self) -> str:
        """Jupyter's rendering: per layer a table of checks, failing rows highlighted
        (warnings paler), then each failure's findings, example and replay line;
        every text escaped."""
        colors = {"fail": "#f8d0d0", "warn": "#fbefc4", "skip": "#eeeeee"}
        out = ['<div class="gradcheck-report">']
        for r in self.layers:
            out.append(
                f"<h4>{esc(r.label)}: {esc(r.status.upper())}"
                + (f" ({r.examples} examples)" if r.examples else "")
                + (f" - {esc(r.skipped)}" if r.skipped else "")
                + "</h4>"
            )
            if r.checks:
                out.append("<table><tr><th>check</th><th>status</th><th>err/tol</th><th>note</th></tr>")
                for c in r.checks.values():
                    style = f' style="background:{colors[c.status]}"' if c.status in colors else ""
                    ratio = "" if c.ratio is None else f"{c.ratio:.3g}"
                    note = c.message if c.status != "pass" else ""
                    out.append(
                        f'<tr class="gradcheck-{esc(c.status)}"{style}><td>{esc(c.check)}</td><td>{esc(c.status)}</td>'
                        f"<td>{ratio}</td><td>{esc(note)}</td></tr>"
                    )
                out.append("</table>")
            details = [
                f"[{f.check}] {f.message}\n" + "".join(f"    {x}\n" for x in f.detail_lines()) for f in r.failures
            ]
            details += [f"example:\n{r.example}\n"] if r.failures and r.example else []
            details += [f"replay: {r.replay}\n"] if r.failures and r.replay else []
            details += [f"{r.repro}\n"] if r.repro else []
            details += [f"warning: [{w.check}] {w.message}\n" for w in r.warnings]
            if details:
                out.append(f"<pre>{esc(''.join(details))}</pre>")
        for n in self.not_checked:
            out.append(f"<p>not checked: {esc(n['class'])}: {esc(n['reason'])}</p>")
        summary = self.render().rsplit("\n", 1)[-1]  # the text report's last line: PASSED / FAILED ...
        out.append(f"<p><b>{esc(summary)}</b></p></div>")
        return "\n".join(out)

    def render(self) -> str:
        """The text table and, for each failure, verdict, tensor, entries, example."""
        out = []
        for r in self.layers:
            out.append(
                f"{r.label}: {r.status.upper()}"
                + (f" ({r.examples} examples)" if r.examples else "")
                + (f" - {r.skipped}" if r.skipped else "")
            )
            if r.checks:
                out.append(f"  {'check':<16} {'status':<5} {'err/tol':>9}  note")
            for c in r.checks.values():
                ratio = "" if c.ratio is None else f"{c.ratio:9.3g}"
                noted = c.status != "pass" or c.check in INFORMATIVE
                out.append(f"  {c.check:<16} {c.status:<5} {ratio:>9}  " + (c.message if noted else ""))
        for r in self.layers:
            if not r.failures:
                continue
            out.append("")
            out.append(f"== {r.label} failed ==")
            for f in r.failures:
                out.append(f"  [{f.check}] {f.message}")
                out.extend("      " + line for line in f.detail_lines())
            if r.example:
                if r.stopped:
                    out.append(f"  {r.stopped}; smallest failing example so far:")
                else:
                    out.append("  smallest failing example:" if r.shrunk else "  failing example (not shrunk):")
                out.extend("    " + line for line in r.example.splitlines())
            if r.replay:
                out.append(f"  replay: {r.replay}")
            if r.repro:
                out.append(f"  {r.repro}")
            if r.output:
                shown = len(r.output.splitlines())
                more = f"last {shown} of {r.output_lines} lines" if r.output_lines > shown else f"{shown} lines"
                out.append(f"  -- the layer's output ({more}) --")
                out.extend("  | " + line for line in r.output.splitlines())
        for r in self.layers:
            for w in r.warnings:
                out.append(f"warning: {r.label} [{w.check}] {w.message}")
        for n in self.not_checked:
            out.append(f"not checked: {n['class']}: {n['reason']}")
        n_fail = sum(r.status == "fail" for r in self.layers)
        n_warn = sum(r.status == "warn" for r in self.layers)
        out.append("")
        if not self.complete:
            out.append(
                "INCOMPLETE: the run was interrupted"
                + (f"; not run: {', '.join(self.missing)}" if self.missing else "")
            )
        n_layers = len(self.layers)
        out.append(
            ("PASSED" if self.passed and self.complete else "FAILED")
            + f": {n_layers} layer{'s' if n_layers != 1 else ''}, {n_fail} failed, {n_warn} with warnings"
            + (" (warnings fail under --strict)" if self.strict and n_warn else "")
        )
        return "\n".join(out)


def esc(text: object) -> str:
    """Text for HTML: a layer's messages and examples may hold <, > and &."""
    return html.escape(str(text))


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename: a reader sees
    the old report or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
