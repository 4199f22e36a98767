"""Seed 002's models: base models (admin API and CLI), creating a model with the job that trains
it, access per project role, and a live training to READY, then ACTIVE and PUBLISHED."""
from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from app.models import BaseModel, JobMetric
from app.services.model_view import score_of
from tests.support.stack import trainq
from tests.test_tenancy import PARKED, make_user, make_workspace

pytestmark = pytest.mark.e2e
BASES = "/api/v1/admin/base-models"
SEED = json.loads((Path(__file__).parent / "fixtures" / "seed002_model.json").read_text())
WEIGHTS = "/opt/trainq/weights/hotel"
#: Stands for a registered dataset in a parameter list.
KNOWN = "registered"


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _base_body(**overrides) -> dict:
    return {"name": _unique("hotel"), "type": "ABSA", "framework": "pytorch",
            "script_path": "model_epochs.py", "args": ["--lr", "0.1"], "cpu": 1,
            "memory": 1 << 30, "gpu": 0, "metric": "macro_f1", "weights_path": WEIGHTS,
            **overrides}


def _declare(api, **overrides) -> dict:
    response = api.request("POST", BASES, json=_base_body(**overrides))
    assert response.status_code == 201, response.text
    return response.json()["data"]


@pytest.fixture(scope="module")
def world(api, stack, settings):
    """A project with a manager and a viewer, an outsider who manages another one, a base model
    that trains on the cpu host, one parked in the idle pool (no worker), two datasets."""
    project, other = make_workspace(api, "models"), make_workspace(api, "models-other")
    paths = [f"model-data-{uuid.uuid4().hex[:8]}/{i}" for i in range(2)]
    ids = []
    for path in paths:
        (settings.dataset_root / path).mkdir(parents=True)
        created = api.request("POST", "/api/v1/admin/datasets", json={"name": path, "path": path})
        assert created.status_code == 201, created.text
        ids.append(created.json()["data"]["id"])
    return {"project": project["id"], "other": other["id"], "datasets": ids, "paths": paths,
            "live": _declare(api), "parked": _declare(api, pool=PARKED["pool"]),
            "manager": make_user(api, stack, "m-manager", {project["id"]: "manager"}),
            "viewer": make_user(api, stack, "m-viewer", {project["id"]: "viewer"}),
            "outsider": make_user(api, stack, "m-outsider", {other["id"]: "manager"})}


def _models(project: int) -> str:
    return f"/api/v1/projects/{project}/models"


def _create(client, world, base="parked", **overrides) -> requests.Response:
    body = {**SEED["request"], "name": _unique("model"), "base_id": world[base]["id"],
            "annotation_ids": world["datasets"], **overrides}
    return client.request("POST", _models(world["project"]),
                          json={k: v for k, v in body.items() if v is not ...})


def test_declare_get_and_list_base_models(api):
    base = _declare(api)
    assert base["script_path"] == "model_epochs.py" and base["higher_is_better"] is True
    assert base["weights_path"] == WEIGHTS and base["args"] == ["--lr", "0.1"]
    assert api.request("GET", f"{BASES}/{base['id']}").json()["data"] == base
    listed = api.request("GET", BASES, params={"page_size": 100}).json()["data"]["items"]
    assert base in listed
    again = api.request("POST", BASES, json=_base_body(name=base["name"]))
    assert again.status_code == 409 and "already declared" in again.json()["message"]
    assert api.request("GET", f"{BASES}/987654321").status_code == 404


@pytest.mark.parametrize("change, field, message", [
    ({"type": "BASE"}, "type", "must be one of: ABSA"),
    ({"script_path": "missing.py"}, "script_path", "no script at"),
    ({"script_path": "../etc/passwd"}, "script_path", "inside the script root"),
    ({"gpu": 64}, "gpu", "do not fit"),
    ({"metric": "f1 score"}, "metric", "name a metric"),
    ({"cpu": "1"}, "cpu", "whole number"),
    ({"higher_is_better": "yes"}, "higher_is_better", "true or false"),
    ({"resources": {}}, "resources", "unknown field"),
])
def test_invalid_base_models_are_400(api, change, field, message):
    response = api.request("POST", BASES, json=_base_body(**change))
    assert response.status_code == 400, response.text
    assert message in " ".join(response.json()["errors"][field])


def test_base_models_are_for_admins_only(stack, world):
    assert requests.post(stack["base_url"] + BASES, json=_base_body(), timeout=10
                         ).status_code == 401
    for method, path in (("GET", BASES), ("POST", BASES), ("GET", f"{BASES}/1")):
        response = world["manager"].request(method, path, json=_base_body())
        assert response.status_code == 403 and "admin role" in response.json()["message"]


def _cli(env, *args):
    return subprocess.run(trainq("base-models", *args), env=env, capture_output=True,
                          text=True, timeout=60)


def test_cli_add_and_list(stack_env, migrated):
    name = _unique("cli-base")
    added = _cli(stack_env, "add", "--name", name, "--type", "CLASS", "--framework", "pytorch",
                 "--script-path", "model_epochs.py", "--metric", "val_loss", "--lower-is-better",
                 "--arg=--lr", "--arg", "0.1")
    assert added.returncode == 0, added.stderr
    assert f"declared base model {name!r}" in added.stdout
    listed = [line.split("\t") for line in _cli(stack_env, "list").stdout.splitlines()]
    assert [name, "CLASS", "pytorch", "model_epochs.py", "val_loss", "-",
            "lower is better"] in [row[1:] for row in listed]
    again = _cli(stack_env, "add", "--name", name, "--type", "CLASS", "--framework", "pytorch",
                 "--script-path", "model_epochs.py", "--metric", "val_loss")
    assert again.returncode == 1 and "already declared" in again.stderr
    bad = _cli(stack_env, "add", "--name", _unique("cli-bad"), "--type", "ABSA", "--framework",
               "pytorch", "--script-path", "model_epochs.py", "--metric", "f1 score")
    assert bad.returncode == 1 and "name a metric" in bad.stderr


def test_create_answers_the_documents_model(world, api):
    response = _create(world["manager"], world, short_description="short", language="de")
    assert response.status_code == 201, response.text
    model = response.json()["data"]
    assert set(model) == set(SEED["response"]) | {"job_id"}
    assert model["base"] == world["parked"]["name"] and model["type"] == "ABSA"
    assert model["status"] == "QUEUED" and model["progress"] == 0 and model["score"] is None
    assert model["project_id"] == world["project"] and model["language"] == "de"
    assert model["owner"] == world["manager"].name and model["short_description"] == "short"
    assert uuid.UUID(model["uuid"]) and model["created"].endswith("Z")
    assert api.job(model["job_id"])["model_id"] == model["id"]
    listed = world["viewer"].request("GET", _models(world["project"])).json()["data"]
    assert model["id"] in {item["id"] for item in listed["items"]}
    again = _create(world["manager"], world, name=model["name"])
    assert again.status_code == 409 and "already has a model named" in again.json()["message"]


@pytest.mark.parametrize("change, field, message", [
    ({"base_id": 987654321}, "base_id", "no base model 987654321"),
    ({"annotation_ids": [987654321]}, "annotation_ids", "no dataset 987654321"),
    ({"annotation_ids": ..., "trainset_annotation_ids": [KNOWN], "testset_annotation_ids":
      [987654321]}, "testset_annotation_ids", "no dataset 987654321"),
    ({"annotation_ids": ..., "trainset_annotation_ids": [987654321], "testset_annotation_ids":
      [KNOWN]}, "trainset_annotation_ids", "no dataset 987654321"),
    ({"annotation_ids": []}, "annotation_ids", "name the training data"),
    ({"annotation_ids": ["1"]}, "annotation_ids", "whole number"),
    ({"language": "fr"}, "language", "must be one of: en, de, ar"),
    ({"name": "  "}, "name", "must not be blank"),
    ({"status": "READY"}, "status", "unknown field"),
])
def test_invalid_models_are_400_and_train_nothing(world, change, field, message):
    change = {key: [world["datasets"][0] if i == KNOWN else i for i in value]
              if isinstance(value, list) else value for key, value in change.items()}
    before = _jobs(world)
    response = _create(world["manager"], world, **change)
    assert response.status_code == 400, response.text
    assert message in str(response.json()["errors"][field])
    assert _jobs(world) == before


def _jobs(world) -> int:
    listed = world["manager"].request("GET", "/api/v1/training/jobs",
                                      params={"workspace_id": world["project"]})
    return listed.json()["data"]["pagination"]["total"]


def test_a_base_model_whose_script_is_gone_is_a_400_on_base_id(world, api, script_root):
    script = script_root / f"{_unique('gone')}.py"
    script.write_text("print('never runs')\n")
    base = _declare(api, script_path=script.name)
    script.unlink()
    response = _create(world["manager"], world, base_id=base["id"])
    assert response.status_code == 400, response.text
    assert "cannot run on this deployment" in response.json()["errors"]["base_id"][0]


def test_access_follows_the_project_role(world, stack):
    project = world["project"]
    assert requests.get(stack["base_url"] + _models(project), timeout=10).status_code == 401
    refused = _create(world["viewer"], world)
    assert refused.status_code == 403 and "manager role" in refused.json()["message"]
    model = _create(world["manager"], world).json()["data"]
    one = f"{_models(project)}/{model['id']}"
    assert world["viewer"].request("GET", one).json()["data"]["id"] == model["id"]
    viewer_publish = world["viewer"].request("POST", f"{one}/publish")
    assert viewer_publish.status_code == 403 and "manager role" in viewer_publish.json()["message"]
    for method, path in (("GET", _models(project)), ("GET", one), ("POST", f"{one}/activate"),
                         ("POST", _models(project))):
        response = world["outsider"].request(method, path, json={**SEED["request"],
                                             "base_id": 1, "annotation_ids": [1]})
        assert response.status_code == 404, (method, path, response.text)
    missing = world["manager"].request("GET", f"{_models(project)}/987654321")
    assert missing.status_code == 404 and "GET /api/v1/projects/" in missing.json()["message"]
    early = world["manager"].request("POST", f"{one}/activate")
    assert early.status_code == 409 and "wait until its training" in early.json()["message"]


def test_a_model_trains_to_ready_then_is_activated_and_published(world, api, settings):
    model = _create(world["manager"], world, base="live", annotation_ids=...,
                    trainset_annotation_ids=world["datasets"][:1],
                    testset_annotation_ids=world["datasets"][1:]).json()["data"]
    assert api.wait_terminal(model["job_id"])["status"] == "completed"
    one = f"{_models(world['project'])}/{model['id']}"
    trained = world["viewer"].request("GET", one).json()["data"]
    assert (trained["status"], trained["progress"], trained["score"]) == ("READY", 100, 0.8)
    logs = api.request("GET", f"/api/v1/training/jobs/{model['job_id']}/logs").json()["data"]
    root = settings.dataset_root
    assert logs["logs"][:3] == [
        "TRAINQ_DATASETS=" + json.dumps({"train": [str(root / world["paths"][0])],
                                         "test": [str(root / world["paths"][1])]}),
        f"TRAINQ_BASE_DIR={WEIGHTS}", 'ARGS=["--lr", "0.1"]']
    steps = [("publish", "PUBLISHED", 200), ("activate", "PUBLISHED", 409)]
    for action, status, code in [("activate", "ACTIVE", 200), ("activate", "ACTIVE", 409),
                                 *steps]:
        response = world["manager"].request("POST", f"{one}/{action}")
        assert response.status_code == code, response.text
        assert world["manager"].request("GET", one).json()["data"]["status"] == status


def test_the_score_is_the_best_epoch_by_the_base_models_direction():
    epochs = [JobMetric(epoch=1, val_loss=0.5, extra={}), JobMetric(epoch=2, val_loss=0.2,
                                                                   extra={"macro_f1": 0.9}),
              JobMetric(epoch=3, val_loss=None, extra={"macro_f1": True})]
    assert score_of(BaseModel(metric="val_loss", higher_is_better=False), epochs) == 0.2
    assert score_of(BaseModel(metric="val_loss", higher_is_better=True), epochs) == 0.5
    assert score_of(BaseModel(metric="macro_f1", higher_is_better=True), epochs) == 0.9
    assert score_of(BaseModel(metric="accuracy", higher_is_better=True), epochs) is None
