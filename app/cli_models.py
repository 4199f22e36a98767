"""`trainq base-models add|list`: declare the base models seed 002's models are trained from,
from a shell with database access. The body is checked by the admin API's own schema and the
same service, and the script under this machine's TRAINQ_SCRIPT_ROOT: run it where the API runs."""
from __future__ import annotations

from config.settings import Settings

#: Columns of `trainq base-models list`, tab-separated.
_LISTED = ("id", "name", "type", "framework", "script_path", "metric", "weights_path")


def cmd_base_models_add(args, settings: Settings) -> int:
    from marshmallow import ValidationError

    from app.api.base_models.schemas import BaseModelCreateSchema
    from app.errors import InvalidInput
    from app.runtime import Runtime
    from app.services import base_models

    raw = {"name": args.name, "type": args.type, "framework": args.framework,
           "script_path": args.script_path, "args": args.arg, "cpu": args.cpu,
           "memory": args.memory, "gpu": args.gpu, "pool": args.pool, "metric": args.metric,
           "higher_is_better": not args.lower_is_better, "weights_path": args.weights_path}
    try:
        data = BaseModelCreateSchema().load({k: v for k, v in raw.items() if v is not None})
    except ValidationError as exc:
        raise InvalidInput(errors=exc.messages) from None
    with Runtime(settings).db.write() as session:
        base = base_models.declare(session, settings, data)
        print(f"declared base model {base.name!r} (id {base.id}: models name it with base_id)")
    return 0


def cmd_base_models_list(args, settings: Settings) -> int:
    from app.runtime import Runtime
    from app.services import base_models

    with Runtime(settings).db.read() as session:
        for item in base_models.list_base_models(session, page=1, page_size=10**6).items:
            better = "higher" if item["higher_is_better"] else "lower"
            cells = [str(item[key] if item[key] is not None else "-") for key in _LISTED]
            print("\t".join([*cells, f"{better} is better"]))
    return 0


def add_model_commands(sub) -> None:
    from app.services.base_models import TYPES

    base = sub.add_parser("base-models", help="base models that seed 002's models are trained "
                          "from").add_subparsers(dest="base_models_command", required=True)
    add = base.add_parser("add", help="declare a base model: a script, its resources and the "
                          "metric that scores it")
    add.add_argument("--name", required=True, help="unique; what the models API shows as base")
    add.add_argument("--type", required=True, choices=TYPES)
    add.add_argument("--framework", required=True, choices=("pytorch", "tensorflow"))
    add.add_argument("--script-path", required=True, help="relative to TRAINQ_SCRIPT_ROOT")
    add.add_argument("--arg", action="append", default=[], help="an argument of the script; "
                     "repeat for more, with = for one that starts with '-': --arg=--lr --arg=0.1")
    add.add_argument("--cpu", type=int, default=1, help="cores (default 1)")
    add.add_argument("--memory", type=int, default=1 << 30, help="bytes (default 1 GiB)")
    add.add_argument("--gpu", type=int, default=0, help="GPUs (default 0)")
    add.add_argument("--pool", help="default: the smallest pool that fits --gpu")
    add.add_argument("--metric", required=True, help="the epoch metric that is a model's "
                     "score, e.g. f1_score")
    add.add_argument("--lower-is-better", action="store_true", help="the best epoch has the "
                     "lowest metric (e.g. val_loss); default: the highest")
    add.add_argument("--weights-path", help="pretrained weights on the worker hosts, given to "
                     "the script as TRAINQ_BASE_DIR")
    add.set_defaults(func=cmd_base_models_add)
    base.add_parser("list", help="base models: id, name, type, framework, script, metric, "
                    "weights").set_defaults(func=cmd_base_models_list)
