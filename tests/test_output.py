"""Parsing metric lines and shipping a real process's output, in order, as events."""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from redis import exceptions as redis_errors

from workers.output import BATCH_LINES, BUFFERED_LINES, OutputShipper, parse_metric_line
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


class Gate(Recorder):
    """Takes nothing until opened: a Redis that cannot keep up with the script."""
    def __init__(self):
        super().__init__()
        self.open = threading.Event()

    def send_many(self, events):
        self.open.wait()
        super().send_many(events)


def test_a_script_printing_faster_than_redis_takes_waits_and_loses_nothing():
    lines = 60 * BATCH_LINES
    code = f"import sys\nfor i in range({lines}):\n    sys.stdout.write(f'line {{i}}\\n')\n"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    gate = Gate()
    shipper = OutputShipper(gate, proc.stdout, proc.stderr).start()
    try:
        deadline = time.monotonic() + 10
        while shipper.lines.qsize() < BUFFERED_LINES and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)   # what more the reader would buffer, it would have by now
        assert shipper.lines.qsize() == BUFFERED_LINES   # full, and no further
        assert proc.poll() is None   # the script waits on its own write: the pipe is full
    finally:
        gate.open.set()
    assert proc.wait(timeout=30) == 0
    shipper.join()
    shipped = [l["line"] for kind, data in gate.events if kind == "log" for l in data["lines"]]
    assert shipped == [f"line {i}" for i in range(lines)]


class Outage(Recorder):
    """Refuses the first batch as a Redis that stayed down past the publisher's retries."""
    def send_many(self, events):
        if not self.events and not getattr(self, "failed", False):
            self.failed = True
            raise redis_errors.ConnectionError("Redis is down")
        super().send_many(events)


def test_a_batch_redis_never_took_is_dropped_and_the_rest_still_ships():
    code = ("import time\nprint('lost', flush=True)\ntime.sleep(0.5)\n"
            "print('kept', flush=True)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    outage = Outage()
    shipper = OutputShipper(outage, proc.stdout, proc.stderr).start()
    assert proc.wait(timeout=10) == 0
    shipper.join()
    shipped = [l["line"] for kind, data in outage.events if kind == "log" for l in data["lines"]]
    assert shipped == ["kept"]
