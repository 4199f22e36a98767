"""The dataset registry: the admin API and CLI, the check of a job's dataset_id, and the
directories a running script is given (TRAINQ_DATASET_DIR, TRAINQ_DATASETS)."""
from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from app.errors import InvalidInput
from app.runtime import Runtime
from app.services import datasets
from config.protocol import TaskSpec
from tests.support.stack import trainq
from tests.test_tenancy import make_user
from workers.datasets import dataset_env

pytestmark = pytest.mark.e2e
ROUTE = "/api/v1/admin/datasets"


def _dir(settings, *parts: str) -> str:
    """A fresh directory under the stack's TRAINQ_DATASET_ROOT; returns its relative path."""
    relative = Path(f"ds-{uuid.uuid4().hex[:8]}", *parts)
    (settings.dataset_root / relative).mkdir(parents=True)
    return str(relative)


def _register(api, **body) -> requests.Response:
    return api.request("POST", ROUTE, json=body)


def _register_ok(api, settings, **body) -> dict:
    body.setdefault("path", _dir(settings))
    response = _register(api, name=body.pop("name", body["path"]), **body)
    assert response.status_code == 201, response.text
    return response.json()["data"]


def test_register_list_and_get(api, settings):
    path = _dir(settings, "v1")
    created = _register(api, name="mnist", path=f"./{path}//", description="digits")
    assert created.status_code == 201, created.text
    dataset = created.json()["data"]
    assert dataset["path"] == path and dataset["version"] == "1" and dataset["name"] == "mnist"
    assert isinstance(dataset["id"], int) and dataset["description"] == "digits"
    assert api.request("GET", f"{ROUTE}/{dataset['id']}").json()["data"] == dataset
    listed = api.request("GET", ROUTE, params={"page_size": 100}).json()["data"]
    assert dataset["id"] in {item["id"] for item in listed["items"]}
    assert listed["pagination"]["total"] >= 1
    missing = api.request("GET", f"{ROUTE}/987654321")
    assert missing.status_code == 404 and "GET /api/v1/admin/datasets" in missing.json()["message"]


@pytest.mark.parametrize("change, field, message", [
    ({"path": "/etc"}, "path", "not absolute"),
    ({"path": "../outside"}, "path", "'..' may not leave it"),
    ({"path": "a/../../outside"}, "path", "'..' may not leave it"),
    ({"path": "no-such-dir"}, "path", "no directory"),
    ({"path": "."}, "path", "inside TRAINQ_DATASET_ROOT"),
    ({"name": ""}, "name", "give the dataset a name"),
    ({"name": "   "}, "name", "give the dataset a name"),
    ({"version": ""}, "version", "a version is a string"),
])
def test_invalid_registrations_are_400(api, settings, change, field, message):
    response = _register(api, **{"name": "bad", "path": _dir(settings), **change})
    assert response.status_code == 400, response.text
    assert message in " ".join(response.json()["errors"][field])


def test_a_link_out_of_the_root_is_refused(api, settings, tmp_path):
    settings.dataset_root.mkdir(parents=True, exist_ok=True)
    link = settings.dataset_root / f"link-{uuid.uuid4().hex[:8]}"
    link.symlink_to(tmp_path, target_is_directory=True)
    response = _register(api, name="linked", path=link.name)
    assert response.status_code == 400 and "through a link" in response.json()["errors"]["path"][0]


def test_same_name_and_version_is_409_another_version_is_not(api, settings):
    first = _register_ok(api, settings, name=f"imdb-{uuid.uuid4().hex[:6]}")
    again = _register(api, name=first["name"], path=first["path"])
    assert again.status_code == 409 and "already registered" in again.json()["message"]
    assert _register_ok(api, settings, name=first["name"], version="2")["version"] == "2"


def test_only_admins_may_use_the_registry(api, stack, settings):
    assert requests.get(stack["base_url"] + ROUTE, timeout=10).status_code == 401
    user = make_user(api, stack, "ds-user", {})
    for method in ("GET", "POST"):
        response = user.request(method, ROUTE, json={"name": "x", "path": _dir(settings)})
        assert response.status_code == 403 and "admin role" in response.json()["message"]
    assert user.request("GET", f"{ROUTE}/1").status_code == 403


def test_unknown_dataset_id_is_400_and_queues_nothing(api):
    def total():
        return api.request("GET", "/api/v1/training/jobs").json()["data"]["pagination"]["total"]

    before = total()
    response = api.submit(dataset_id=987654321)
    assert response.status_code == 400, response.text
    assert "no dataset 987654321" in response.json()["errors"]["dataset_id"][0]
    assert total() == before


def test_the_script_gets_the_dataset_directories(api, settings):
    dataset = _register_ok(api, settings, path=_dir(settings, "1"))
    job_id = api.submit_ok(script_path="print_datasets.py", dataset_id=dataset["id"])
    assert api.wait_terminal(job_id)["status"] == "completed"
    logs = api.request("GET", f"/api/v1/training/jobs/{job_id}/logs").json()["data"]["logs"]
    absolute = str(settings.dataset_root / dataset["path"])
    assert logs == [f"TRAINQ_DATASET_DIR={absolute}",
                    "TRAINQ_DATASETS=" + json.dumps({"train": [absolute], "test": []})]


@pytest.fixture
def runtime(settings, migrated):
    runtime = Runtime(settings)
    yield runtime
    runtime.close()


def test_resolve_keeps_the_order_and_names_the_field(settings, runtime):
    with runtime.db.write() as session:
        ids = [datasets.register(session, settings.dataset_root,
                                 {"name": f"r{i}", "path": _dir(settings)}).id for i in range(3)]
    with runtime.db.read() as session:
        assert datasets.resolve(session, [], None) is None
        resolved = datasets.resolve(session, [ids[2], ids[0]], [ids[1]])
        assert [e["id"] for e in resolved["train"]] == [ids[2], ids[0]]
        assert resolved["test"] == [{"id": ids[1], "path": datasets.get_dataset(
            session, ids[1]).path}]
        with pytest.raises(InvalidInput) as refused:
            datasets.resolve(session, [ids[0], 2**70], [-5], field="annotation_ids")
    assert [m.split(";")[0] for m in refused.value.errors["annotation_ids"]] == [
        f"no dataset {2**70}", "no dataset -5"]


def test_worker_env_for_registered_datasets_and_for_a_bare_dataset_id(tmp_path):
    spec = TaskSpec(script_path="s.py", framework="pytorch", cpu=1, memory=1, gpu=0,
                    datasets={"train": [], "test": ["b/1", "c"]})
    env = dataset_env(spec, tmp_path)
    assert env["TRAINQ_DATASET_DIR"] == str(tmp_path / "b/1")
    assert json.loads(env["TRAINQ_DATASETS"]) == {
        "train": [], "test": [str(tmp_path / "b/1"), str(tmp_path / "c")]}
    old = TaskSpec(script_path="s.py", framework="pytorch", cpu=1, memory=1, gpu=0, dataset_id=12)
    assert dataset_env(old, tmp_path) == {"TRAINQ_DATASET_DIR": str(tmp_path / "12")}


def _cli(env, *args):
    return subprocess.run(trainq("datasets", *args), env=env, capture_output=True, text=True,
                          timeout=60)


def test_cli_add_and_list(stack_env, settings, migrated):
    path, name = _dir(settings), f"cli-{uuid.uuid4().hex[:6]}"
    added = _cli(stack_env, "add", "--name", name, "--path", path, "--version", "3",
                 "--description", "from the shell")
    assert added.returncode == 0, added.stderr
    assert f"registered dataset {name!r} version '3'" in added.stdout
    listed = _cli(stack_env, "list")
    assert listed.returncode == 0
    assert any(line.split("\t")[1:4] == [name, "version=3", path]
               for line in listed.stdout.splitlines())
    again = _cli(stack_env, "add", "--name", name, "--path", path, "--version", "3")
    assert again.returncode == 1 and "already registered" in again.stderr
    outside = _cli(stack_env, "add", "--name", name, "--path", "/etc")
    assert outside.returncode == 1 and "not absolute" in outside.stderr
