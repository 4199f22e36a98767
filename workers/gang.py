"""The rendezvous of a multi-host attempt. Each instance publishes where it listens and starts its
script once every instance has: torchrun's static rendezvous needs rank 0's address and port,
TensorFlow's TF_CONFIG every instance's. Placement was all-or-nothing, so every instance is
already on its way; the wait is short, and bounded by TRAINQ_RENDEZVOUS_TIMEOUT_SECONDS."""
from __future__ import annotations

import json
import socket
from dataclasses import dataclass

from config.keys import rendezvous_key
from workers.claim import KEY_TTL_SECONDS


@dataclass(frozen=True)
class Gang:
    """This instance's place in its attempt's gang."""
    rank: int
    endpoints: tuple[str, ...]  # "<addr>:<port>" of each instance, by rank

    @property
    def size(self) -> int:
        return len(self.endpoints)

    @property
    def master(self) -> tuple[str, str]:
        """Rank 0's address and port: torchrun's --master-addr and --master-port."""
        addr, _, port = self.endpoints[0].rpartition(":")
        return addr, port

    def tf_config(self) -> str:
        """TF_CONFIG for tf.distribute.MultiWorkerMirroredStrategy: every worker, and this one."""
        return json.dumps({"cluster": {"worker": list(self.endpoints)},
                           "task": {"type": "worker", "index": self.rank}})


def free_port(addr: str) -> int:
    """A port nothing listens on at `addr` now; the script binds it moments later."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((addr, 0))
        return probe.getsockname()[1]


def publish(redis, job_id: str, attempt: int, rank: int, endpoint: str) -> None:
    key = rendezvous_key(job_id, attempt)
    pipe = redis.pipeline(transaction=True)
    pipe.hset(key, str(rank), endpoint)
    pipe.expire(key, KEY_TTL_SECONDS)
    pipe.execute()


def joined(redis, job_id: str, attempt: int, size: int) -> tuple[str, ...] | None:
    """Every instance's endpoint by rank, once all `size` have published; else None."""
    found = redis.hgetall(rendezvous_key(job_id, attempt))
    endpoints = tuple(found.get(str(rank)) for rank in range(size))
    return endpoints if all(endpoints) else None


def missing(redis, job_id: str, attempt: int, size: int) -> list[int]:
    """Ranks that have not published yet: for the message of an attempt that timed out."""
    found = redis.hgetall(rendezvous_key(job_id, attempt))
    return [rank for rank in range(size) if str(rank) not in found]
