"""Findings: what a check says about a layer on one example."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal, cast

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

    def to_dict(self) -> dict:
        d = asdict(self)
        d["entries"] = [{**asdict(e), "where": e.where(self.axes)} for e in self.entries]
        d["axes"] = list(self.axes)
        if d["ratio"] is not None and d["ratio"] == float("inf"):
            d["ratio"] = "inf"
        return d

    def detail_lines(self) -> list[str]:
        lines = []
        for e in self.entries:
            lines.append(
                f"{self.tensor or 'value'}{e.where(self.axes)}: expected {e.expected:.8g}, got {e.actual:.8g} "
                f"(error {e.error:.3g}, allowed {e.allowed:.3g})"
            )
        return lines


def worst(statuses: list[str]) -> Status:
    return cast(Status, max(statuses, key=SEVERITY.__getitem__, default="pass"))


def from_comparison(check: str, tensor: str, axes: tuple[str, ...], c: Comparison, what: str) -> Finding:
    """A finding for an array comparison: `what` says against what (e.g. 'JAX vjp')."""
    if c.shape_error:
        return Finding(check, "fail", f"{tensor}: {c.shape_error}", tensor=tensor, ratio=float("inf"), axes=axes)
    if c.ok:
        return Finding(check, "pass", f"{tensor} matches {what}", tensor=tensor, ratio=c.ratio, axes=axes)
    where = c.worst[0].where(axes) if c.worst else ""
    msg = (
        f"{tensor} differs from {what} at {c.bad_count} of {c.size} entries; worst {tensor}{where}: "
        f"expected {c.worst[0].expected:.6g}, got {c.worst[0].actual:.6g} ({c.ratio:.3g}x the tolerance)"
    )
    return Finding(check, "fail", msg, tensor=tensor, ratio=c.ratio, entries=c.worst, axes=axes)
