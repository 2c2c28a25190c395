"""The project's saved post-processing, mapped onto a model's class indices.

Settings are stored by class name, since two models may order their classes differently;
the analysis code works with indices, so the mapping happens here, in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from core.analysis.postprocess import PostprocessParams
from core.store import Store
from core.store.records import PostprocessSetting

log = logging.getLogger(__name__)


def load_params(
    store: Store, class_names: Sequence[str], track_id: int | None = None
) -> dict[int, PostprocessParams]:
    """The saved params of each class one track's head predicts (classes never tuned are left
    out); ``track_id`` None is the first track."""
    index = {name.casefold(): i for i, name in enumerate(class_names)}
    params: dict[int, PostprocessParams] = {}
    for setting in store.postprocess.list(track_id):
        i = index.get(setting.class_name.casefold())
        if i is None:
            continue
        try:
            params[i] = PostprocessParams(
                smoothing=setting.smoothing,
                open_threshold=setting.open_threshold,
                close_threshold=setting.close_threshold,
                min_length=setting.min_length,
                fill_gaps=setting.fill_gaps,
            )
        except ValueError:  # written by hand or by a future version: the defaults are safer
            log.warning("Ignoring invalid post-processing settings for %s", setting.class_name, exc_info=True)
    return params


def save_params(
    store: Store, class_name: str, params: PostprocessParams, track_id: int | None = None
) -> None:
    store.postprocess.save(
        PostprocessSetting(
            class_name=class_name,
            smoothing=params.smoothing,
            open_threshold=params.open_threshold,
            close_threshold=params.close_threshold,
            min_length=params.min_length,
            fill_gaps=params.fill_gaps,
            track_id=track_id,
        )
    )
