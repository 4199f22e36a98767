"""TRAINQ_WEBHOOK_SECRET as Standard Webhooks defines it, checked with the reference library."""
from __future__ import annotations

import base64
import os
import secrets
import shlex
import subprocess
import sys

import pytest
import requests
from standardwebhooks import WebhookVerificationError

from app.webhooks.sender import send
from config.settings import Settings, SettingsError
from config.webhook_secret import GENERATE
from tests.conftest import REDIS_URL, ROOT
from tests.support.receiver import WebhookReceiver, verified
from tests.support.stack import trainq

BARE = base64.b64encode(secrets.token_bytes(32)).decode()
SECRET = "whsec_" + BARE
BODY = {"trainTaskId": "task-signed", "statusType": 1}


@pytest.fixture
def http_receiver():
    server = WebhookReceiver().start()
    yield server
    server.stop()


def _deliver(secret: str, receiver: WebhookReceiver) -> dict:
    """One real HTTP delivery signed with the key Settings derives from `secret`."""
    key = Settings.from_env({"TRAINQ_WEBHOOK_SECRET": secret}).webhook_key
    outcome = send(requests.Session(), receiver.url + "/hook", "evt_signed", BODY, timeout=5,
                   key=key)
    assert outcome.delivered, outcome.error
    return receiver.for_task(BODY["trainTaskId"])[-1]


@pytest.mark.parametrize("given", [SECRET, BARE, BARE.rstrip("=")],
                         ids=["whsec_", "bare-base64", "unpadded"])
def test_a_secret_with_or_without_the_prefix_verifies_with_the_reference_library(
        given, http_receiver):
    hook = _deliver(given, http_receiver)
    assert verified(hook, SECRET) == BODY
    assert verified(hook, BARE) == BODY


def test_the_hmac_is_not_keyed_with_the_secret_string(http_receiver):
    hook = _deliver(SECRET, http_receiver)
    # The reference library keyed with raw bytes: what trainq used to do with the whole string.
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        verified(hook, SECRET.encode())


def test_no_secret_sends_no_signature(http_receiver):
    hook = _deliver("", http_receiver)
    assert "webhook-signature" not in {k.lower() for k in hook["headers"]}


def test_the_advertised_command_makes_a_secret_that_verifies(http_receiver):
    command = shlex.split(GENERATE)
    made = subprocess.run([sys.executable, *command[1:]], capture_output=True, text=True,
                          check=True, timeout=30).stdout.strip()
    assert made.startswith("whsec_")
    assert verified(_deliver(made, http_receiver), made) == BODY


@pytest.mark.parametrize("bad, found", [
    ("whsec-" + secrets.token_hex(16), "is not valid base64"),  # the tests' old secret
    ("whsec_" + BARE[:-4] + "ab!=", "is not valid base64"),
    ("whsec_" + BARE.replace("+", "-").replace("/", "_") + "-_", "is not valid base64"),
    ("whsec_" + base64.b64encode(b"too short").decode(), "decodes to only 9 bytes"),
    ("whsec_", "decodes to only 0 bytes")])
def test_a_secret_that_is_not_base64_is_refused_with_how_to_make_one(bad, found):
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"TRAINQ_WEBHOOK_SECRET": bad})
    assert found in str(refused.value) and GENERATE in str(refused.value)


def test_a_refused_secret_is_not_echoed_into_logs():
    bad = "whsec_" + BARE[:-4] + "ab!="
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"TRAINQ_WEBHOOK_SECRET": bad})
    assert BARE[:-4] not in str(refused.value)


def test_trainq_consumer_refuses_a_bad_secret_at_start_up(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINQ_")}
    env.update({"PYTHONPATH": str(ROOT), "TRAINQ_VAR_DIR": str(tmp_path),
                "TRAINQ_REDIS_URL": REDIS_URL, "TRAINQ_WEBHOOK_SECRET": "whsec-not-base64"})
    result = subprocess.run(trainq("consumer"), env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2, result.stderr
    assert "trainq: TRAINQ_WEBHOOK_SECRET is not valid base64" in result.stderr
    assert GENERATE in result.stderr
