"""Parsing metric lines and shipping a real process's output, in order, as events."""
from __future__ import annotations

import subprocess
import sys

import pytest

from workers.output import OutputShipper, parse_metric_line
from workers.reporting import metric_line


@pytest.mark.parametrize("line", [
    "##trainq {not json", "##trainq [1, 2]", '##trainq {"loss": 1}', '##trainq {"epoch": "3"}',
    '##trainq {"epoch": true}', '##trainq {"epoch": -1}', "trainq {\"epoch\": 1}", ""])
def test_lines_that_are_not_metric_reports(line):
    assert parse_metric_line(line) is None


def test_metric_line_fields():
    record = parse_metric_line('##trainq {"epoch": 2, "total_epochs": 5, "loss": 0.5, '
                               '"accuracy": NaN, "lr": 0.1, "note": "x", "flag": true}')
    assert record == {"epoch": 2, "total_epochs": 5, "loss": 0.5, "accuracy": None,
                      "val_loss": None, "val_accuracy": None, "f1_score": None,
                      "extra": {"lr": 0.1}}


def test_helper_writes_what_the_worker_reads():
    line = metric_line(3, 10, loss=0.25, val_accuracy=float("inf"))
    assert parse_metric_line(line) == {"epoch": 3, "total_epochs": 10, "loss": 0.25,
                                       "accuracy": None, "val_loss": None, "val_accuracy": None,
                                       "f1_score": None, "extra": {}}


class Recorder:
    def __init__(self):
        self.events = []

    def send_many(self, events):
        self.events.extend(events)


def test_output_of_a_real_process_keeps_its_order():
    code = ("import sys\n"
            "for i in range(1, 4):\n"
            "    print(f'line {i}', flush=True)\n"
            "    print(f'##trainq {{\"epoch\": {i}, \"loss\": {i / 10}}}', flush=True)\n"
            "print('oops', file=sys.stderr)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    recorder = Recorder()
    shipper = OutputShipper(recorder, proc.stdout, proc.stderr).start()
    proc.wait()
    shipper.join()
    stdout = []  # stdout lines and epochs in the order the events carry them
    for kind, data in recorder.events:
        if kind == "epoch":
            stdout.append(("epoch", data["epoch"]))
        else:  # stderr may share a log event with stdout lines: its reader races the other
            stdout += [("log", l["line"]) for l in data["lines"] if l["stream"] == "stdout"]
    assert stdout == [("log", "line 1"), ("epoch", 1), ("log", "line 2"), ("epoch", 2),
                      ("log", "line 3"), ("epoch", 3)]
    seqs = [line["seq"] for kind, data in recorder.events if kind == "log" for line in data["lines"]]
    assert sorted(seqs) == list(range(1, 5)) and len(set(seqs)) == 4
    assert shipper.stderr_message() == "oops"
