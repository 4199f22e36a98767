"""The dataset registry: directories under TRAINQ_DATASET_ROOT that jobs name by integer id
(seed 001's dataset_id, seed 004's dataset_info, seed 002's annotation ids)."""
from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, InvalidInput, NotFound
from app.models import Dataset
from app.services.job_queries import Page

#: Column sizes of app/models/catalogue.py: longer values are a 400, not a database error.
MAX_NAME, MAX_VERSION, MAX_PATH = 200, 64, 1024
DEFAULT_VERSION = "1"
LIST_HINT = "GET /api/v1/admin/datasets (or `trainq datasets list`) lists the registered ones"
FIELDS = ("id", "name", "version", "path", "description", "created_by", "created_at")
#: The largest id a BIGINT column holds.
_MAX_DB_ID = 2**63 - 1


def register(session, root: Path, data: dict[str, Any], created_by: int | None = None) -> Dataset:
    """Record a directory that exists under `root` (this host's TRAINQ_DATASET_ROOT)."""
    name, version = (data.get("name") or "").strip(), data.get("version", DEFAULT_VERSION)
    version = version.strip() if isinstance(version, str) else version  # None, 2: refused
    errors = _field_errors(name, version)
    try:
        path = relative_dir(root, data.get("path") or "")
    except ValueError as exc:
        errors["path"] = [str(exc)]
    if errors:
        raise InvalidInput(errors=errors)
    _require_free(session, name, version)
    dataset = Dataset(name=name, version=version, path=path, description=data.get("description"),
                      created_by=created_by)
    session.add(dataset)
    try:
        session.flush()
    except IntegrityError:  # a concurrent twin registered the same name and version first
        raise Conflict(_taken(name, version)) from None
    return dataset


def relative_dir(root: Path, path: str) -> str:
    """`path` normalized, relative to the root; ValueError (saying what to change) unless it
    names an existing directory inside the root, after following links."""
    if not path.strip() or "\x00" in path or len(path) > MAX_PATH:
        raise ValueError(f"give the dataset's directory relative to TRAINQ_DATASET_ROOT "
                         f"({root}), e.g. mnist/1 (at most {MAX_PATH} characters)")
    pure = PurePosixPath(path)
    if pure.is_absolute():
        raise ValueError(f"must be relative to TRAINQ_DATASET_ROOT ({root}), not absolute: "
                         "each host mounts the root where it likes")
    if ".." in pure.parts or not pure.parts:
        raise ValueError(f"must name a directory inside TRAINQ_DATASET_ROOT ({root}); "
                         "'..' may not leave it")
    _require_dir(root.resolve(), root / pure)
    return str(pure)


def _require_dir(root: Path, candidate: Path) -> None:
    try:
        real, is_dir = candidate.resolve(), candidate.is_dir()
    except (OSError, RuntimeError) as exc:  # a name too long, a link loop
        raise ValueError(f"cannot be used ({exc})") from None
    if root not in real.parents:
        raise ValueError(f"{candidate} leads out of TRAINQ_DATASET_ROOT ({root}) through a link; "
                         "copy or mount the data inside the root")
    if not is_dir:
        raise ValueError(f"no directory {candidate} on the API host; create it (or mount the "
                         "data there) first, then register it")


def _field_errors(name: str, version: Any) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not name or len(name) > MAX_NAME:
        errors["name"] = [f"give the dataset a name of 1 to {MAX_NAME} characters, e.g. mnist"]
    if not isinstance(version, str) or not version or len(version) > MAX_VERSION:
        errors["version"] = [f"a version is a string of 1 to {MAX_VERSION} characters "
                             f"(default {DEFAULT_VERSION!r})"]
    return errors


def _require_free(session, name: str, version: str) -> None:
    if session.scalar(select(Dataset.id).where(Dataset.name == name,
                                               Dataset.version == version)) is not None:
        raise Conflict(_taken(name, version))


def _taken(name: str, version: str) -> str:
    return (f"dataset {name!r} version {version!r} is already registered; register the new "
            "data under another version")


def list_datasets(session, *, page: int, page_size: int) -> Page:
    total = session.scalar(select(func.count()).select_from(Dataset)) or 0
    rows = session.scalars(select(Dataset).order_by(Dataset.id)
                           .offset((page - 1) * page_size).limit(page_size)).all()
    return Page([describe(d) for d in rows], page, page_size, total)


def get_dataset(session, dataset_id: int) -> Dataset:
    dataset = session.get(Dataset, dataset_id) if _storable(dataset_id) else None
    if dataset is None:
        raise NotFound(f"no dataset {dataset_id}; {LIST_HINT}")
    return dataset


def describe(dataset: Dataset) -> dict[str, Any]:
    return {key: getattr(dataset, key) for key in FIELDS}


def resolve(session, train_ids: list[int], test_ids: list[int] | None = None,
            field: str = "dataset_id") -> dict | None:
    """The datasets a job reads, as Job.datasets stores them: {"train": [{"id", "path"}],
    "test": [...]} in the order given; None when it names none. Unknown ids are a 400 on
    `field` (the name the caller's API gives them)."""
    test_ids = list(test_ids or [])
    if not train_ids and not test_ids:
        return None
    named = list(dict.fromkeys([*train_ids, *test_ids]))
    wanted = [i for i in named if _storable(i)]
    paths = dict(session.execute(select(Dataset.id, Dataset.path)
                                 .where(Dataset.id.in_(wanted))).all()) if wanted else {}
    missing = [i for i in named if not _storable(i) or i not in paths]
    if missing:
        raise InvalidInput(errors={field: [f"no dataset {i}; {LIST_HINT}" for i in missing]})
    return {role: [{"id": i, "path": paths[i]} for i in ids]
            for role, ids in (("train", list(train_ids)), ("test", test_ids))}


def _storable(dataset_id: Any) -> bool:
    """An id the table could hold (true is not 1): others name no dataset and must not reach a
    query, where PostgreSQL would refuse them as out of range."""
    return type(dataset_id) is int and 0 < dataset_id <= _MAX_DB_ID
