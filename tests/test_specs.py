"""TRAINQ_SPECS and TRAINQ_SPEC_PRICES: seed 004's resource specs, and what a wrong one says."""
from __future__ import annotations

import re

import pytest

from config.settings import Settings, SettingsError


def _settings(**env) -> Settings:
    return Settings.from_env({"TRAINQ_POOLS": "cpu=0,gpu=1", **env})


def test_without_specs_each_pool_is_one():
    specs = {spec.id: spec for spec in _settings().specs}
    assert (specs["gpu"].gpu, specs["gpu"].cpu, specs["gpu"].mem_gi, specs["gpu"].pool) == \
        (1, 8, 32.0, "gpu")
    assert (specs["cpu"].gpu, specs["cpu"].pool, specs["cpu"].price_per_hour) == (0, "cpu", 0.0)


def test_a_named_spec_with_its_price():
    settings = _settings(TRAINQ_SPECS="a100-1=gpu:1,cpu:8,mem_gi:64,pool:gpu; tiny=gpu:0,"
                                      "cpu:1,mem_gi:0.5,pool:cpu", TRAINQ_SPEC_PRICES="a100-1=12.5")
    spec = settings.spec("a100-1")
    assert (spec.gpu, spec.cpu, spec.memory_bytes, spec.price_per_hour) == (1, 8, 64 << 30, 12.5)
    assert settings.spec("tiny").memory_bytes == 1 << 29 and settings.spec("nope") is None


@pytest.mark.parametrize("env, words", [
    ({"TRAINQ_SPECS": "x=gpu:1,cpu:8,pool:gpu"}, "is not ID=gpu:N"),
    ({"TRAINQ_SPECS": "x=gpu:1,cpu:8,mem_gi:lots,pool:gpu"}, "not a number"),
    ({"TRAINQ_SPECS": "x=gpu:1,cpu:8,mem_gi:4,pool:tpu"}, "does not declare (cpu, gpu)"),
    ({"TRAINQ_SPECS": "x=gpu:1,cpu:0,mem_gi:4,pool:gpu"}, "cpu must be 1 or more"),
    ({"TRAINQ_SPECS": "x=gpu:0,cpu:1,mem_gi:1,pool:cpu;x=gpu:0,cpu:1,mem_gi:1,pool:cpu"},
     "names a spec twice"),
    ({"TRAINQ_SPEC_PRICES": "gpu=cheap"}, "is not ID=PRICE_PER_HOUR"),
    ({"TRAINQ_SPEC_PRICES": "gpu=-1"}, "not negative"),
    ({"TRAINQ_SPEC_PRICES": "h100=3"}, "does not declare: h100"),
])
def test_a_wrong_spec_says_what_to_write(env, words):
    with pytest.raises(SettingsError, match=re.escape(words)):
        _settings(**env)
