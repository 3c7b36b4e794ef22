"""`gradcheck selftest --jobs N`: the same report as one process, in the same order,
whichever process checked each layer and mutant."""

from __future__ import annotations

import json

from gradcheck import cli

# Mutants of three layers (so the groups go to different processes), one that warns.
MUTANTS = "rnn-forward-no-bias,affine-db-mean,time-rnn-dh-not-carried,loss-all-ignored-nan"


def selftest(tmp_path, jobs: int, capsys) -> tuple[int, dict, str]:
    out = tmp_path / f"selftest-{jobs}.json"
    code = cli.main(["selftest", "--profile", "ci", "--mutants", MUTANTS, "--jobs", str(jobs), "--json", str(out)])
    return code, json.loads(out.read_text()), capsys.readouterr().out


def without_times(report: dict) -> dict:
    report = dict(report)
    report["mutants"] = [{k: v for k, v in m.items() if k != "seconds"} for m in report["mutants"]]
    return report


def test_two_processes_give_the_report_of_one(tmp_path, capsys):
    code1, one, out1 = selftest(tmp_path, 1, capsys)
    code2, two, out2 = selftest(tmp_path, 2, capsys)
    assert code1 == code2 == 0
    assert without_times(one) == without_times(two)
    assert [m["name"] for m in two["mutants"]] == MUTANTS.split(",")
    assert all(m["caught"] for m in two["mutants"])
    # the reference on the layers those mutants were tried on, in SPECS order, each once
    names = [layer["name"] for layer in two["reference"]["layers"]]
    assert len(names) == len(set(names)) and {"RNN", "Affine", "TimeRNN"} <= set(names)
    assert "(2 processes)" in out2 and "processes" not in out1
    # the table lines (mutant, layers, result, examples, caught by) are the same
    assert out1.splitlines()[:5] == out2.splitlines()[:5]
