"""The pure preemption choice: which running jobs make room for a job that waited too long."""
from __future__ import annotations

from app.scheduler.model import HostView, PendingJob
from app.scheduler.preempt import Candidate, choose

GPUS = tuple(str(i) for i in range(8))


def _host(name="h1", free=(), slots=8, jobs=3, schedulable=True) -> HostView:
    """`jobs`: how many jobs hold a slot there."""
    return HostView(name, GPUS, frozenset(free), slots, slots - jobs, schedulable)


def _job(gpus=4, priority=8) -> PendingJob:
    return PendingJob("urgent", "ws", priority, gpus, submitted_at=0.0)


def _run(job_id, gpus, priority=2, since=100.0, host="h1", preemptible=True) -> Candidate:
    return Candidate(job_id, host, tuple(str(g) for g in gpus), priority, preemptible, since)


def test_it_frees_the_aligned_block_that_loses_the_least_work():
    running = [_run("a", [0, 1, 2, 3], since=600), _run("b", [4, 5], since=10),
               _run("c", [6, 7], since=20)]
    chosen = choose(_job(4), [_host()], running)
    assert chosen.victims == ("b", "c") and chosen.gpus == ("4", "5", "6", "7")
    assert chosen.lost_gpu_seconds == 2 * 10 + 2 * 20 and chosen.host == "h1"


def test_free_gpus_in_the_block_count_and_only_holders_are_stopped():
    running = [_run("a", [0, 1, 2, 3], since=600), _run("b", [6], since=50)]
    chosen = choose(_job(4), [_host(free=("4", "5", "7"), jobs=2)], running)
    assert chosen.victims == ("b",) and chosen.gpus == ("4", "5", "6", "7")


def test_never_equal_or_higher_priority_nor_a_job_that_is_not_preemptible():
    equal = [_run("a", range(8), priority=8)]
    assert choose(_job(4, priority=8), [_host()], equal) is None
    pinned = [_run("a", range(4), preemptible=False), _run("b", range(4, 8), priority=9)]
    assert choose(_job(4), [_host()], pinned) is None


def test_a_block_with_one_protected_holder_is_skipped_for_another():
    running = [_run("a", [0, 1], preemptible=False), _run("b", [2, 3], since=1),
               _run("c", [4, 5, 6, 7], since=500)]
    chosen = choose(_job(4), [_host()], running)
    assert chosen.victims == ("c",)


def test_the_cheapest_host_wins_and_draining_hosts_are_not_used():
    h1, h2 = _host("h1"), _host("h2")
    running = [_run("a", range(8), since=100, host="h1"), _run("b", range(8), since=30, host="h2")]
    assert choose(_job(8), [h1, h2], running).victims == ("b",)
    h2_drained = _host("h2", schedulable=False)
    assert choose(_job(8), [h1, h2_drained], running).victims == ("a",)


def test_a_job_without_gpus_takes_the_cheapest_slot():
    running = [_run("a", [], since=40), _run("b", [], since=5)]
    host = HostView("cpu1", (), frozenset(), 2, 0)
    chosen = choose(_job(0), [host], [Candidate(c.job_id, "cpu1", (), 2, True, c.since_checkpoint)
                                     for c in running])
    assert chosen.victims == ("b",) and chosen.gpus == ()


def test_a_full_host_with_free_gpus_frees_a_slot():
    host = HostView("h1", GPUS, frozenset(GPUS[4:]), 2, 0)
    running = [_run("a", [0, 1], since=9), _run("b", [2, 3], since=3)]
    chosen = choose(_job(2), [host], running)
    assert chosen.victims == ("b",)


def test_the_published_queue_puts_holders_first_with_their_reason():
    from types import SimpleNamespace

    from app.placer.preemption import Hold, Preemptor
    from app.scheduler.model import Plan, QueueEntry, Reason

    settings = SimpleNamespace(preempt_grace_seconds=60)
    preemptor = Preemptor(SimpleNamespace(settings=settings), redis=None)
    planned = Plan((), (QueueEntry("later", 1, Reason.WAITING_FOR_GPUS, "", None, "unknown"),),
                   None)
    queue = preemptor.queue([Hold("urgent", "h1", ("0", "1"), 99.0)], planned, now=0.0)
    assert [(e.job_id, e.position, e.reason) for e in queue] == \
        [("urgent", 1, Reason.PREEMPTING), ("later", 2, Reason.WAITING_FOR_GPUS)]
    assert "h1" in queue[0].message and queue[0].eta_seconds == 60


def _borrowed(job_id, gpus, since, workspace="A", priority=9) -> Candidate:
    return Candidate(job_id, "h1", tuple(str(g) for g in gpus), priority, True, since,
                     borrowed=True, workspace=workspace)


def test_a_job_within_its_quota_takes_back_borrowed_gpus_whatever_their_priority():
    job = PendingJob("b-job", "B", 2, 4, submitted_at=0.0)
    running = [_borrowed("a1", range(4), since=900), _run("own", range(4, 8), priority=1,
                                                            since=10)]
    # Within quota: borrowed work goes first even though the other victim loses less work.
    assert choose(job, [_host()], running, within_quota=True).victims == ("a1",)
    # Over its own quota it is an ordinary job: only lower priorities, and not borrowed work.
    assert choose(job, [_host()], running, within_quota=False).victims == ("own",)


def test_borrowed_work_of_its_own_workspace_is_not_taken_back():
    job = PendingJob("a-job", "A", 2, 8, submitted_at=0.0)
    running = [_borrowed("a1", range(8), since=5)]
    assert choose(job, [_host()], running, within_quota=True) is None


def _gang(gpus=4, instances=2, priority=8) -> PendingJob:
    return PendingJob("urgent", "ws", priority, gpus, submitted_at=0.0, instances=instances)


def test_a_multi_host_job_preempts_on_as_many_hosts_as_it_has_instances():
    hosts = [_host("h1", free=("4", "5", "6", "7"), jobs=1), _host("h2", jobs=2),
             _host("h3", free=("4", "5", "6", "7"), jobs=1)]
    running = [_run("a", range(4), host="h1", since=500), _run("b", range(4), host="h2", since=5),
               _run("c", range(4, 8), host="h2", since=5), _run("d", range(4), host="h3",
                                                                since=50)]
    chosen = choose(_gang(8), hosts, running)
    assert chosen.victims == ("b", "c", "d")   # the cheapest two hosts: h2 and h3
    assert [host for host, _ in chosen.placed] == ["h2", "h3"]
    assert all(gpus == GPUS for _, gpus in chosen.placed)


def test_a_host_where_an_instance_fits_already_joins_without_victims():
    hosts = [_host("h1", free=GPUS, jobs=0), _host("h2", jobs=1)]
    chosen = choose(_gang(8), hosts, [_run("b", range(8), host="h2", since=30)])
    assert chosen.victims == ("b",) and [h for h, _ in chosen.placed] == ["h1", "h2"]
    assert chosen.lost_gpu_seconds == 8 * 30


def test_a_multi_host_victim_costs_all_its_gpus_wherever_it_is_chosen():
    gang = Candidate("g", "h1", ("0", "1", "2", "3"), 2, True, 100.0, elsewhere=4)
    single = Candidate("s", "h2", ("0", "1", "2", "3"), 2, True, 150.0)
    hosts = [_host("h1", free=("4", "5", "6", "7"), jobs=1),
             _host("h2", free=("4", "5", "6", "7"), jobs=1)]
    chosen = choose(_job(8), hosts, [gang, single])
    assert chosen.victims == ("s",) and chosen.lost_gpu_seconds == 4 * 150   # < 8 * 100


def test_a_multi_host_hold_keeps_every_host_and_places_all_instances_at_once():
    from types import SimpleNamespace

    from app.placer.preemption import Hold, Preemptor
    from app.placer.snapshot import PoolView

    preemptor = Preemptor(SimpleNamespace(settings=SimpleNamespace()), redis=None)
    hold = Hold("urgent", "h2", GPUS[:4], 99.0, also=(("h1", GPUS[:4]),))
    view = PoolView([_host("h1", free=GPUS, jobs=0), _host("h2", free=GPUS[2:], jobs=1)], [],
                    [_gang(4)])
    assert preemptor.ready(view, [hold]) == []   # h2 is still freeing GPUs 0-1
    hidden = preemptor.hide(view, [hold])
    assert [h.free_gpus for h in hidden.hosts] == [frozenset(GPUS[4:])] * 2 and not hidden.pending
    view.hosts[1] = _host("h2", free=GPUS, jobs=0)
    (placement,) = preemptor.ready(view, [hold])
    assert [(i.rank, i.host, i.gpus) for i in placement.instances] == \
        [(0, "h1", GPUS[:4]), (1, "h2", GPUS[:4])]
