"""Settings, pools, queue names and the Celery settings every process shares."""
from __future__ import annotations

import pytest

from config.celery import celery_config, visibility_timeout
from config.pools import Pool, parse_pools, pool_for
from config.queues import pool_queues, queue_name
from config.settings import Settings, SettingsError


def test_pools_parse_sorted_by_slot_size():
    assert parse_pools("a100x8=8, cpu=0,a100x1=1") == (
        Pool("cpu", 0), Pool("a100x1", 1), Pool("a100x8", 8))


@pytest.mark.parametrize("spec, fragment", [
    ("", "declares no pool"), ("cpu", "NAME=GPUS_PER_SLOT"), ("CPU=0", "NAME=GPUS_PER_SLOT"),
    ("cpu=x", "NAME=GPUS_PER_SLOT"), ("cpu=0,cpu=1", "names a pool twice")])
def test_bad_pool_specs_say_what_is_wrong(spec, fragment):
    with pytest.raises(SettingsError, match=fragment):
        parse_pools(spec)


def test_job_goes_to_the_named_or_smallest_fitting_pool():
    pools = parse_pools("cpu=0,a100x1=1,a100x4=4")
    assert pool_for(pools, 0).name == "cpu"
    assert pool_for(pools, 2).name == "a100x4"
    assert pool_for(pools, 0, "a100x1").name == "a100x1"
    assert pool_for(pools, 2, "a100x1") is None
    assert pool_for(pools, 5) is None


def test_queues_are_consumed_highest_priority_first():
    assert queue_name("gpu", 7) == "train.gpu.p07"
    assert pool_queues("cpu")[0] == "train.cpu.p10" and pool_queues("cpu")[-1] == "train.cpu.p00"
    with pytest.raises(ValueError):
        queue_name("gpu", 11)


def test_settings_from_environment_and_bad_numbers():
    settings = Settings.from_env({"TRAINQ_API_PORT": "9000", "TRAINQ_NOTIFY_URL": "http://x/"})
    assert settings.api_port == 9000 and settings.notify_url == "http://x"
    assert settings.database_url.startswith("sqlite:///")
    with pytest.raises(SettingsError, match="TRAINQ_API_PORT must be a whole number"):
        Settings.from_env({"TRAINQ_API_PORT": "eighty"})


def test_celery_settings_hold_up_for_long_jobs():
    settings = Settings.from_env({"TRAINQ_MAX_JOB_SECONDS": "3600"})
    conf = celery_config(settings)
    assert conf["broker_transport_options"]["visibility_timeout"] == visibility_timeout(settings)
    assert visibility_timeout(settings) > settings.max_job_seconds
    assert conf["task_acks_late"] and conf["worker_prefetch_multiplier"] == 1
    assert conf["worker_disable_prefetch"] and conf["task_reject_on_worker_lost"] is False
    assert conf["broker_transport_options"]["queue_order_strategy"] == "priority"
    # Host queues are named at run time (host.<name>); the scheduler declares them as it sends.
    assert conf["task_create_missing_queues"] is True


def test_every_process_builds_the_same_broker_options():
    """API, workers and Flower all import workers.celery_app.make_celery with the settings."""
    from workers.celery_app import make_celery

    settings = Settings.from_env({})
    api_side, flower_side = make_celery(settings), make_celery(Settings.from_env({}))
    assert api_side.conf.broker_transport_options == flower_side.conf.broker_transport_options
    assert "trainq.run_job" in api_side.tasks
