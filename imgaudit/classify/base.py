"""Where the base image ends and the image's own layers begin."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from imgaudit.errors import UsageError
from imgaudit.model import BaseImage, BaseMethod, HistoryEntry

BASE_NAME_ANNOTATION = "org.opencontainers.image.base.name"
BASE_DIGEST_ANNOTATION = "org.opencontainers.image.base.digest"
_RUNTIME_INSTRUCTION = re.compile(r"(?:^|#\(nop\)\s+)(?:CMD|ENTRYPOINT)\b")


def base_from_diff_ids(
    image_diff_ids: Sequence[str | None], base_diff_ids: Sequence[str], name: str | None
) -> BaseImage:
    """`--base`: the base's layers must be the first layers of the image."""
    if not base_diff_ids or list(image_diff_ids[: len(base_diff_ids)]) != list(base_diff_ids):
        raise UsageError(f"the image is not built on {name or 'the given base'}: its layers differ")
    return BaseImage(BaseMethod.FLAG, len(base_diff_ids), name=name)


def base_from_history(history: Sequence[HistoryEntry]) -> int | None:
    """Base images end with CMD or ENTRYPOINT: the last such step that layers follow.

    Returns the number of layers below that step, or None when history shows no boundary.
    """
    boundary: int | None = None
    pending: int | None = None  # layers below the latest CMD/ENTRYPOINT not yet followed
    layers_before = 0
    for entry in history:
        if _RUNTIME_INSTRUCTION.search(entry.created_by.strip()):
            pending = layers_before
        if not entry.empty_layer:
            if pending is not None:
                boundary, pending = pending, None
            layers_before += 1
    return boundary or None


def decide_base(
    layer_count: int,
    history: Sequence[HistoryEntry],
    annotations: Mapping[str, str],
    resolved_annotation_layers: int | None = None,
) -> BaseImage:
    """The base when no `--base` was given: annotations, then history, then the first layer."""
    name = annotations.get(BASE_NAME_ANNOTATION)
    digest = annotations.get(BASE_DIGEST_ANNOTATION)
    if resolved_annotation_layers is not None and 0 < resolved_annotation_layers <= layer_count:
        return BaseImage(BaseMethod.ANNOTATION, resolved_annotation_layers, name, digest)
    from_history = base_from_history(history)
    if from_history is not None and from_history <= layer_count:
        return BaseImage(BaseMethod.HISTORY, from_history, name, digest)
    return BaseImage(BaseMethod.FIRST_LAYER, min(1, layer_count), name, digest)
