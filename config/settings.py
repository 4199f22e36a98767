"""Settings read from TRAINQ_* environment variables into one frozen object; nothing connects."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Mapping

from config.pools import Pool, parse_pools
from config.specs import ResourceSpec, parse_specs
from config.webhook_secret import parse_webhook_secret

IPNetwork = IPv4Network | IPv6Network

#: Every environment variable trainq reads, with its default. The docker-compose test checks
#: that the compose file names only these.
DEFAULTS: dict[str, str] = {
    "TRAINQ_DATABASE_URL": "",  # empty: SQLite under TRAINQ_VAR_DIR
    "TRAINQ_REDIS_URL": "redis://127.0.0.1:6379/0",
    "TRAINQ_API_HOST": "127.0.0.1",
    "TRAINQ_API_PORT": "8000",
    "TRAINQ_API_WORKERS": "2",
    "TRAINQ_API_THREADS": "16",  # per API process: requests being served at once
    # An open connection may stay silent (no request, or headers not finished) this long.
    "TRAINQ_API_KEEPALIVE_SECONDS": "15",
    "TRAINQ_API_READ_TIMEOUT_SECONDS": "30",  # the most a request body may take to arrive
    "TRAINQ_FLOWER_HOST": "127.0.0.1",
    "TRAINQ_FLOWER_PORT": "5555",
    "TRAINQ_FLOWER_USERNAME": "",  # empty: the admin user's name
    "TRAINQ_FLOWER_PASSWORD": "",  # empty: the admin password
    "TRAINQ_VAR_DIR": "./var",
    "TRAINQ_SCRIPT_ROOT": "./scripts/examples",
    "TRAINQ_WORK_DIR": "",  # empty: <var>/jobs; holds checkpoints and outputs per job
    "TRAINQ_DATASET_ROOT": "",  # empty: <var>/datasets; registered datasets lie under it
    "TRAINQ_NOTIFY_URL": "",
    # Private ranges webhooks may reach (the business system often lives on one), e.g.
    # "10.20.0.0/16,fd00:1::/64"; everything else that is not a public address is refused.
    "TRAINQ_NOTIFY_ALLOW_CIDRS": "",
    # Pools and the most GPUs one instance of each may ask for; any host of a pool serves any
    # mix of jobs that fit its GPUs.
    "TRAINQ_POOLS": "cpu=0,gpu=1",
    # Seed 004's resource specs (spec_id): what one instance gets, and from which pool; entries
    # separated by ";", e.g. "a100-1=gpu:1,cpu:8,mem_gi:64,pool:gpu". Empty: one spec per pool,
    # named like it, with the pool's GPUs (see config/specs.py). And each spec's price per
    # instance-hour, e.g. "a100-1=12.5" (0 where none is given).
    "TRAINQ_SPECS": "",
    "TRAINQ_SPEC_PRICES": "",
    # The scheduler's leader lock: a standby takes over this long after the leader died.
    "TRAINQ_SCHEDULER_LOCK_SECONDS": "15",
    # The most time between two scheduling cycles (submissions and finished jobs wake it sooner).
    "TRAINQ_SCHEDULER_INTERVAL_SECONDS": "1",
    # A waiting job gains one priority level per this many seconds, so nothing waits forever
    # behind a stream of higher-priority work; 0 turns aging off (strict priority).
    "TRAINQ_AGING_SECONDS": "3600",
    # A job that could not be placed for this long may preempt preemptible running jobs of
    # strictly lower priority in its pool; they get this grace between SIGTERM and SIGKILL.
    "TRAINQ_PREEMPT_AFTER_SECONDS": "600",
    "TRAINQ_PREEMPT_GRACE_SECONDS": "60",
    # How long an instance of a multi-host job waits for the others to join before the attempt
    # fails as a setup error (the reaper retries it sooner when a host never claims its part).
    "TRAINQ_RENDEZVOUS_TIMEOUT_SECONDS": "300",
    "TRAINQ_ADMIN_USERNAME": "admin",
    "TRAINQ_ADMIN_PASSWORD": "",
    "TRAINQ_SECRET_KEY": "",
    "TRAINQ_TOKEN_TTL_SECONDS": "3600",
    "TRAINQ_LOGIN_MAX_FAILURES": "5",  # failed logins per username per window, then 429
    "TRAINQ_LOGIN_MAX_FAILURES_PER_IP": "20",  # failed logins per client address per window
    "TRAINQ_LOGIN_WINDOW_SECONDS": "300",
    "TRAINQ_STOP_GRACE_SECONDS": "30",
    "TRAINQ_MAX_JOB_SECONDS": str(7 * 24 * 3600),
    "TRAINQ_HEARTBEAT_SECONDS": "5",
    "TRAINQ_LEASE_SECONDS": "30",
    "TRAINQ_REAPER_INTERVAL_SECONDS": "5",
    "TRAINQ_VISIBILITY_TIMEOUT_SECONDS": "",  # empty: TRAINQ_MAX_JOB_SECONDS + 1 day
    "TRAINQ_CONSUMER_CLAIM_IDLE_SECONDS": "60",
    "TRAINQ_MAX_RETRIES": "2",  # default fault_tolerance_max_retry of a job
    "TRAINQ_RETRY_INTERVAL_SECONDS": "5",  # default fault_tolerance_retry_interval_sec
    "TRAINQ_WEBHOOK_TIMEOUT_SECONDS": "10",
    "TRAINQ_WEBHOOK_MAX_AGE_SECONDS": str(24 * 3600),
    "TRAINQ_WEBHOOK_CONCURRENCY": "8",
    # set ("whsec_" + base64 of the key): deliveries carry a Standard Webhooks HMAC signature
    "TRAINQ_WEBHOOK_SECRET": "",
    "TRAINQ_PUBLISH_TIMEOUT_SECONDS": "3",
    # Set: GET /metrics asks for it as a bearer token; empty: anyone who reaches the API may
    # scrape it (counts by pool and status only, nothing a workspace owns).
    "TRAINQ_METRICS_TOKEN": "",
    # Whole days after a job finished that its output lines are kept; then the consumer deletes
    # them (the job, its attempts and metrics stay). Empty: keep them forever.
    "TRAINQ_RETENTION_DAYS": "",
    "TRAINQ_LOG_LEVEL": "INFO",
}


DAY = 24 * 3600
#: A century: beyond it "now minus the retention" leaves the range dates can hold.
MAX_RETENTION_DAYS = 36_500


@dataclass(frozen=True)
class Settings:
    """Everything configurable, as plain values. Build with `Settings.from_env()`."""

    database_url: str = field(repr=False)  # may carry a password
    redis_url: str = field(repr=False)  # may carry a password
    api_host: str
    api_port: int
    api_workers: int
    api_threads: int
    api_keepalive_seconds: float
    api_read_timeout_seconds: float
    flower_host: str
    flower_port: int
    flower_username: str
    flower_password: str = field(repr=False)
    var_dir: Path
    script_root: Path
    work_dir: Path
    dataset_root: Path
    notify_url: str
    notify_allow_cidrs: tuple[IPNetwork, ...]
    pools: tuple[Pool, ...]
    specs: tuple[ResourceSpec, ...]
    scheduler_lock_seconds: float
    scheduler_interval_seconds: float
    aging_seconds: float
    preempt_after_seconds: float
    preempt_grace_seconds: float
    rendezvous_timeout_seconds: float
    admin_username: str
    admin_password: str = field(repr=False)
    secret_key: str = field(repr=False)
    token_ttl_seconds: int
    login_max_failures: int
    login_max_failures_per_ip: int
    login_window_seconds: int
    stop_grace_seconds: float
    max_job_seconds: int
    heartbeat_seconds: float
    lease_seconds: float
    reaper_interval_seconds: float
    visibility_timeout_seconds: int
    consumer_claim_idle_seconds: float
    max_retries: int
    retry_interval_seconds: int
    webhook_timeout_seconds: float
    webhook_max_age_seconds: float
    webhook_concurrency: int
    webhook_key: bytes = field(repr=False)  # the decoded TRAINQ_WEBHOOK_SECRET; b"": unsigned
    publish_timeout_seconds: float
    metrics_token: str = field(repr=False)
    retention_days: int | None  # None: logs are kept forever
    log_level: str
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = {**DEFAULTS, **{k: v for k, v in (environ or os.environ).items() if k in DEFAULTS}}
        var_dir = Path(env["TRAINQ_VAR_DIR"]).resolve()
        return cls(
            database_url=env["TRAINQ_DATABASE_URL"] or f"sqlite:///{var_dir / 'trainq.db'}",
            redis_url=env["TRAINQ_REDIS_URL"],
            api_host=env["TRAINQ_API_HOST"],
            api_port=_int(env, "TRAINQ_API_PORT"),
            api_workers=_int(env, "TRAINQ_API_WORKERS"),
            api_threads=_int(env, "TRAINQ_API_THREADS"),
            api_keepalive_seconds=_float(env, "TRAINQ_API_KEEPALIVE_SECONDS"),
            api_read_timeout_seconds=_float(env, "TRAINQ_API_READ_TIMEOUT_SECONDS"),
            flower_host=env["TRAINQ_FLOWER_HOST"],
            flower_port=_int(env, "TRAINQ_FLOWER_PORT"),
            flower_username=env["TRAINQ_FLOWER_USERNAME"] or env["TRAINQ_ADMIN_USERNAME"],
            flower_password=env["TRAINQ_FLOWER_PASSWORD"] or env["TRAINQ_ADMIN_PASSWORD"],
            var_dir=var_dir,
            script_root=Path(env["TRAINQ_SCRIPT_ROOT"]).resolve(),
            work_dir=Path(env["TRAINQ_WORK_DIR"] or var_dir / "jobs").resolve(),
            dataset_root=Path(env["TRAINQ_DATASET_ROOT"] or var_dir / "datasets").resolve(),
            notify_url=env["TRAINQ_NOTIFY_URL"].rstrip("/"),
            notify_allow_cidrs=_networks(env, "TRAINQ_NOTIFY_ALLOW_CIDRS"),
            pools=parse_pools(env["TRAINQ_POOLS"]),
            specs=parse_specs(env["TRAINQ_SPECS"], env["TRAINQ_SPEC_PRICES"],
                              parse_pools(env["TRAINQ_POOLS"])),
            scheduler_lock_seconds=_positive(env, "TRAINQ_SCHEDULER_LOCK_SECONDS"),
            scheduler_interval_seconds=_positive(env, "TRAINQ_SCHEDULER_INTERVAL_SECONDS"),
            aging_seconds=_float(env, "TRAINQ_AGING_SECONDS"),
            preempt_after_seconds=_float(env, "TRAINQ_PREEMPT_AFTER_SECONDS"),
            preempt_grace_seconds=_float(env, "TRAINQ_PREEMPT_GRACE_SECONDS"),
            rendezvous_timeout_seconds=_positive(env, "TRAINQ_RENDEZVOUS_TIMEOUT_SECONDS"),
            admin_username=env["TRAINQ_ADMIN_USERNAME"],
            admin_password=env["TRAINQ_ADMIN_PASSWORD"],
            secret_key=env["TRAINQ_SECRET_KEY"],
            token_ttl_seconds=_int(env, "TRAINQ_TOKEN_TTL_SECONDS"),
            login_max_failures=_int(env, "TRAINQ_LOGIN_MAX_FAILURES"),
            login_max_failures_per_ip=_int(env, "TRAINQ_LOGIN_MAX_FAILURES_PER_IP"),
            login_window_seconds=_int(env, "TRAINQ_LOGIN_WINDOW_SECONDS"),
            stop_grace_seconds=_float(env, "TRAINQ_STOP_GRACE_SECONDS"),
            max_job_seconds=_int(env, "TRAINQ_MAX_JOB_SECONDS"),
            heartbeat_seconds=_float(env, "TRAINQ_HEARTBEAT_SECONDS"),
            lease_seconds=_float(env, "TRAINQ_LEASE_SECONDS"),
            reaper_interval_seconds=_float(env, "TRAINQ_REAPER_INTERVAL_SECONDS"),
            visibility_timeout_seconds=_int(env, "TRAINQ_VISIBILITY_TIMEOUT_SECONDS") if env[
                "TRAINQ_VISIBILITY_TIMEOUT_SECONDS"] else _int(env, "TRAINQ_MAX_JOB_SECONDS") + DAY,
            consumer_claim_idle_seconds=_float(env, "TRAINQ_CONSUMER_CLAIM_IDLE_SECONDS"),
            max_retries=_int(env, "TRAINQ_MAX_RETRIES"),
            retry_interval_seconds=_int(env, "TRAINQ_RETRY_INTERVAL_SECONDS"),
            webhook_timeout_seconds=_float(env, "TRAINQ_WEBHOOK_TIMEOUT_SECONDS"),
            webhook_max_age_seconds=_float(env, "TRAINQ_WEBHOOK_MAX_AGE_SECONDS"),
            webhook_concurrency=_int(env, "TRAINQ_WEBHOOK_CONCURRENCY"),
            webhook_key=parse_webhook_secret(env["TRAINQ_WEBHOOK_SECRET"]),
            publish_timeout_seconds=_float(env, "TRAINQ_PUBLISH_TIMEOUT_SECONDS"),
            metrics_token=env["TRAINQ_METRICS_TOKEN"].strip(),
            retention_days=_days_or_forever(env, "TRAINQ_RETENTION_DAYS"),
            log_level=env["TRAINQ_LOG_LEVEL"].upper(),
        )

    def with_changes(self, **changes) -> "Settings":
        """A copy with some values replaced (tests and the CLI use this)."""
        return replace(self, **changes)

    def pool(self, name: str) -> Pool | None:
        return next((p for p in self.pools if p.name == name), None)

    def spec(self, spec_id: str) -> ResourceSpec | None:
        return next((s for s in self.specs if s.id == spec_id), None)

    @property
    def largest_slot_gpus(self) -> int:
        return max(p.gpus for p in self.pools)


def setting_names() -> list[str]:
    """The names of all environment variables trainq reads."""
    return sorted(DEFAULTS)


def _int(env: Mapping[str, str], name: str) -> int:
    try:
        return int(env[name])
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {env[name]!r}") from None


def _networks(env: Mapping[str, str], name: str) -> tuple[IPNetwork, ...]:
    """A comma-separated list of CIDR ranges ("10.0.0.0/8,fd00::/8"); host bits are ignored."""
    try:
        return tuple(ip_network(part.strip(), strict=False)
                     for part in env[name].split(",") if part.strip())
    except ValueError as exc:
        raise SettingsError(f"{name} must list CIDR ranges such as 10.0.0.0/8 ({exc})") from None


def _float(env: Mapping[str, str], name: str) -> float:
    try:
        return float(env[name])
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {env[name]!r}") from None


def _positive(env: Mapping[str, str], name: str) -> float:
    value = _float(env, name)
    if value <= 0:
        raise SettingsError(f"{name} must be more than 0, got {env[name]!r}")
    return value


def _days_or_forever(env: Mapping[str, str], name: str) -> int | None:
    """Empty: None (forever). Not 0 for forever: a 0 meant as "keep nothing" would silently
    keep everything, so it is refused like any other value that is not 1 or more days."""
    text = env[name].strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_RETENTION_DAYS:
        raise SettingsError(f"{name} must be a whole number of days from 1 to "
                            f"{MAX_RETENTION_DAYS} (or empty to keep logs forever), got "
                            f"{env[name]!r}")
    return int(text)


class SettingsError(ValueError):
    """A setting has a value trainq cannot use; the message names the variable."""


__all__ = ["Settings", "SettingsError", "DEFAULTS", "setting_names", "fields"]
