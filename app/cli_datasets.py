"""`trainq datasets add|list`: the dataset registry from a shell with database access, through
the service the admin API uses. The directory is checked under this machine's
TRAINQ_DATASET_ROOT, so run it where the API runs (or with the same root mounted)."""
from __future__ import annotations

from config.settings import Settings


def cmd_datasets_add(args, settings: Settings) -> int:
    from app.runtime import Runtime
    from app.services import datasets

    data = {"name": args.name, "version": args.version, "path": args.path,
            "description": args.description}
    with Runtime(settings).db.write() as session:
        dataset = datasets.register(session, settings.dataset_root, data)
        print(f"registered dataset {dataset.name!r} version {dataset.version!r} at "
              f"{settings.dataset_root / dataset.path} (id {dataset.id}: jobs name it with "
              "dataset_id)")
    return 0


def cmd_datasets_list(args, settings: Settings) -> int:
    from app.runtime import Runtime
    from app.services import datasets

    with Runtime(settings).db.read() as session:
        for item in datasets.list_datasets(session, page=1, page_size=10**6).items:
            print(f"{item['id']}\t{item['name']}\tversion={item['version']}\t{item['path']}\t"
                  f"{item['description'] or '-'}")
    return 0


def add_dataset_commands(sub) -> None:
    datasets = sub.add_parser("datasets", help="the dataset registry: directories under "
                              "TRAINQ_DATASET_ROOT that jobs name by id").add_subparsers(
        dest="datasets_command", required=True)
    add = datasets.add_parser("add", help="register a directory under TRAINQ_DATASET_ROOT")
    add.add_argument("--name", required=True)
    add.add_argument("--path", required=True, help="relative to TRAINQ_DATASET_ROOT, e.g. mnist/1")
    add.add_argument("--version", default="1", help="default 1; a name and version are "
                     "registered once")
    add.add_argument("--description")
    add.set_defaults(func=cmd_datasets_add)
    datasets.add_parser("list", help="registered datasets: id, name, version, path"
                        ).set_defaults(func=cmd_datasets_list)
