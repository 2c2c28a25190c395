"""`models` and `import-weights`: the project's model versions."""

from __future__ import annotations

import argparse

from core.cli.common import stderr_line
from core.errors import StoreError
from core.media.library import add_video, expand_video_paths
from core.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    weights = sub.add_parser("import-weights", help="import a .safetensors checkpoint or the Sports-1M port")
    weights.add_argument("file")
    weights.add_argument(
        "--calibrate-on", nargs="*", default=[], metavar="VIDEO", help="videos for Sports-1M BN calibration"
    )
    weights.set_defaults(handler=import_weights_cmd)

    models = sub.add_parser("models", help="list model versions, or 'models use ID'")
    models.add_argument("action", nargs="?", choices=["list", "use"], default="list")
    models.add_argument("id", nargs="?", type=int)
    models.set_defaults(handler=models_cmd)


def models_cmd(args: argparse.Namespace, store: Store) -> int:
    if args.action == "use":
        if args.id is None:
            raise StoreError("Say which model version to use: 'models use ID'.")
        version = store.models.get(args.id)
        store.models.set_active(version.id)
        print(f"active model is now #{version.id} {version.name}")
        return 0
    active = store.models.active()
    for m in store.models.list():
        mark = "*" if active is not None and m.id == active.id else " "
        metrics = " ".join(f"{k}={v:.3f}" for k, v in m.metrics.items() if isinstance(v, float))
        print(f"{mark}{m.id}\t{m.name}\t{m.state.value}\t{m.mode or '-'}\t{metrics}")
    return 0


def import_weights_cmd(args: argparse.Namespace, store: Store) -> int:
    from core.model.weights_import import import_weights

    videos = [add_video(store, p) for p in expand_video_paths(args.calibrate_on)]
    version = import_weights(store, args.file, videos, progress=stderr_line)
    print(f"imported model #{version.id} {version.name} ({len(version.class_names)} classes)")
    return 0
