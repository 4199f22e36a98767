"""All-or-nothing GPU reservations in real Redis: racing placers never double-allocate, a stale
leader epoch is refused inside the reservation, releases are idempotent and exact."""
from __future__ import annotations

import os
import random
import threading

import pytest
import redis as redis_lib

from config.keys import ALLOCATIONS_SET, SCHEDULER_EPOCH, host_jobs_key, host_key
from config.protocol import Allocation, InstanceAssignment
from tests.conftest import REDIS_URL
from workers import allocations

HOSTS = [f"host{i}" for i in range(8)]
GPUS = tuple(str(i) for i in range(8))


@pytest.fixture
def redis():
    url = os.environ.get("TRAINQ_TEST_ALLOC_REDIS_URL", REDIS_URL.rsplit("/", 1)[0] + "/6")
    client = redis_lib.Redis.from_url(url, decode_responses=True)
    client.flushdb()
    client.set(SCHEDULER_EPOCH, 3)
    for name in HOSTS:
        client.hset(host_key(name), mapping={"gpus": ",".join(GPUS), "slots": 8,
                                             "seen": client.time()[0]})
    yield client
    client.flushdb()
    client.close()


def _alloc(job: str, parts: list[tuple[str, tuple[str, ...]]], epoch: int = 3) -> Allocation:
    return Allocation(job, 1, epoch, tuple(InstanceAssignment(rank, host, gpus)
                                           for rank, (host, gpus) in enumerate(parts)))


def _held(redis, host: str) -> list[str]:
    return [gpu for value in redis.hvals(host_jobs_key(host)) for gpu in value.split(",") if gpu]


def test_reserve_then_release_gives_the_gpus_back(redis):
    alloc = _alloc("job-a", [("host0", ("0", "1")), ("host1", ("4", "5", "6", "7"))])
    assert allocations.reserve(redis, alloc, 30) == allocations.RESERVED
    assert sorted(_held(redis, "host0")) == ["0", "1"] and len(_held(redis, "host1")) == 4
    assert allocations.current(redis, "job-a", 1) == alloc
    assert allocations.release(redis, alloc) is True
    assert allocations.release(redis, alloc) is False  # idempotent
    assert not _held(redis, "host0") and not _held(redis, "host1")
    assert redis.zcard(ALLOCATIONS_SET) == 0


def test_a_busy_gpu_on_any_host_refuses_the_whole_reservation(redis):
    assert allocations.reserve(redis, _alloc("job-a", [("host1", ("2",))]), 30) == "ok"
    gang = _alloc("job-b", [("host0", ("0", "1")), ("host1", ("2", "3"))])
    assert allocations.reserve(redis, gang, 30) == allocations.GPU_BUSY
    assert not _held(redis, "host0")  # nothing of the gang was taken
    assert allocations.reserve(redis, _alloc("job-c", [("host0", ("9",))]), 30) == "gpu-busy"


def test_stale_epoch_offline_host_full_slots_and_a_second_reservation_are_refused(redis):
    assert allocations.reserve(redis, _alloc("job-a", [("host0", ("0",))], epoch=2), 30) == \
        allocations.STALE_EPOCH
    redis.hset(host_key("host2"), "seen", int(redis.time()[0]) - 100)
    assert allocations.reserve(redis, _alloc("job-a", [("host2", ("0",))]), 30) == \
        allocations.HOST_OFFLINE
    redis.hset(host_key("host3"), "slots", 1)
    assert allocations.reserve(redis, _alloc("job-a", [("host3", ("0",))]), 30) == "ok"
    assert allocations.reserve(redis, _alloc("job-b", [("host3", ("1",))]), 30) == \
        allocations.NO_SLOT
    assert allocations.reserve(redis, _alloc("job-a", [("host4", ("0",))]), 30) == \
        allocations.TAKEN


def test_release_of_an_outdated_allocation_leaves_the_newer_one(redis):
    old = _alloc("job-a", [("host0", ("0",))])
    assert allocations.reserve(redis, old, 30) == "ok"
    assert allocations.release(redis, old)
    new = _alloc("job-a", [("host1", ("0",))])
    assert allocations.reserve(redis, new, 30) == "ok"
    assert allocations.release(redis, old) is False
    assert allocations.current(redis, "job-a", 1) == new and _held(redis, "host1") == ["0"]


def test_reassert_rebuilds_a_running_allocation_after_redis_lost_it(redis):
    alloc = _alloc("job-a", [("host0", ("2", "3"))])
    assert allocations.reserve(redis, alloc, 30) == "ok"
    redis.delete(host_jobs_key("host0"), *redis.keys("trainq:alloc:*"))
    allocations.reassert(redis, alloc, "host0")
    assert allocations.current(redis, "job-a", 1) == alloc
    assert sorted(_held(redis, "host0")) == ["2", "3"]


def test_racing_placers_never_give_one_gpu_to_two_jobs(redis):
    """4 threads × 400 random gang reservations (1-3 hosts, aligned 1/2/4/8 blocks), each
    holding a few and releasing them twice; the Lua check must catch every collision."""
    clashes, lock = [], threading.Lock()

    def placer(seed: int) -> None:
        rng, client, held = random.Random(seed), redis_lib.Redis(
            connection_pool=redis.connection_pool), []
        for n in range(400):
            size = rng.choice((1, 2, 4, 8))
            start = rng.randrange(0, 8, size)
            hosts = rng.sample(HOSTS, rng.randint(1, 3))
            alloc = _alloc(f"job-{seed}-{n}", [(h, GPUS[start:start + size]) for h in hosts])
            if allocations.reserve(client, alloc, 30) == "ok":
                held.append(alloc)
            if len(held) > 3:
                victim = held.pop(rng.randrange(len(held)))
                allocations.release(client, victim)
                allocations.release(client, victim)
            with lock:
                for host in HOSTS:
                    gpus = _held(client, host)
                    if len(gpus) != len(set(gpus)):
                        clashes.append((host, gpus))
        for alloc in held:
            allocations.release(client, alloc)

    threads = [threading.Thread(target=placer, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clashes == []
    assert all(not _held(redis, host) for host in HOSTS)
    assert redis.zcard(ALLOCATIONS_SET) == 0
