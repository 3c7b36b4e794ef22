"""Findings: what a check says about a layer on one example."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal, cast

from .compare import Comparison, Entry

Status = Literal["pass", "warn", "fail", "skip"]
SEVERITY: dict[str, int] = {"skip": 0, "pass": 1, "warn": 2, "fail": 3}


@dataclass
class Finding:
    """One check's outcome. On failure `message` alone should let a reader act:
    it names the tensor, and `entries` the worst indices with expected vs actual."""

    check: str
    status: Status
    message: str
    tensor: str | None = None
    ratio: float | None = None  # worst error / allowed error (<= 1 passes)
    entries: list[Entry] = field(default_factory=list)
    axes: tuple[str, ...] = ()
    verdict: str | None = None
    # The example that shows this finding when it is not the check's primary one
    # (e.g. every label ignored, probed by the mask check alone): an Example, or
    # its description once the finding has crossed the worker's pipe.
    example: Any = None

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["entries"] = [
            {
                "index": list(e.index),
                "expected": e.expected,
                "actual": e.actual,
                "error": e.error,
                "allowed": e.allowed,
                "where": e.where(self.axes),
            }
            for e in self.entries
        ]
        d["axes"] = list(self.axes)
        d["example"] = describe(self.example)
        if d["ratio"] is not None and d["ratio"] == float("inf"):
            d["ratio"] = "inf"
        return d

    def detail_lines(self) -> list[str]:
        lines = []
        for e in self.entries:
            exp, act = pair(e.expected, e.actual)
            lines.append(
                f"{self.tensor or 'value'}{e.where(self.axes)}: expected {exp}, got {act} "
                f"(error {e.error:.3g}, allowed {e.allowed:.3g})"
            )
        return lines


def describe(example: Any) -> str | None:
    """An example's readable listing (an Example, or a listing already)."""
    if example is None:
        return None
    return example.describe() if hasattr(example, "describe") else str(example)


def pair(expected: float, actual: float, least: int = 6) -> tuple[str, str]:
    """The two numbers with the fewest significant digits (at least `least`, at most
    17, float64's round-trip) at which their printed forms differ, so a reader
    sees where they part: 0.53045912 vs 0.53045887, not 0.530459 twice."""
    for digits in range(least, 18):
        a, b = f"{expected:.{digits}g}", f"{actual:.{digits}g}"
        if a != b:
            return a, b
    return f"{expected:.17g}", f"{actual:.17g}"


def worst(statuses: list[str]) -> Status:
    return cast(Status, max(statuses, key=SEVERITY.__getitem__, default="pass"))


def from_comparison(check: str, tensor: str, axes: tuple[str, ...], c: Comparison, what: str) -> Finding:
    """A finding for an array comparison: `what` says against what (e.g. 'JAX vjp')."""
    if c.shape_error:
        return Finding(check, "fail", f"{tensor}: {c.shape_error}", tensor=tensor, ratio=float("inf"), axes=axes)
    if c.ok:
        return Finding(check, "pass", f"{tensor} matches {what}", tensor=tensor, ratio=c.ratio, axes=axes)
    where = c.worst[0].where(axes) if c.worst else ""
    exp, act = pair(c.worst[0].expected, c.worst[0].actual) if c.worst else ("?", "?")
    msg = (
        f"{tensor} differs from {what} at {c.bad_count} of {c.size} entries; worst {tensor}{where}: "
        f"expected {exp}, got {act} ({c.ratio:.3g}x the tolerance)"
    )
    return Finding(check, "fail", msg, tensor=tensor, ratio=c.ratio, entries=c.worst, axes=axes)
