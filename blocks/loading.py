"""Load a saved block by name, with an error that says what to do when it is not there."""
from __future__ import annotations

from typing import TypeVar

from prefect.blocks.core import Block

B = TypeVar("B", bound=Block)


class MissingBlock(ValueError):
    """A named block the run needs is not saved on the Prefect server."""


def load_block(block_type: type[B], name: str) -> B:
    """`block_type.load(name)`; a block that is not saved is a MissingBlock naming the block and the fix."""
    try:
        return block_type.load(name)
    except ValueError as exc:
        if "Unable to find block document" not in str(exc):
            raise
        from prefect.settings import PREFECT_API_URL

        slug, server = block_type.get_block_type_slug(), PREFECT_API_URL.value() or "the ephemeral API"
        raise MissingBlock(
            f"no {slug} block named {name!r} on the Prefect server at {server}: "
            f"`sentinel blocks register` saves the default blocks (local-triton, sentinel-s3, mt-guards-default, "
            f"asr-guards-default), or create {name!r} in the Prefect UI (Blocks), or pass another block name"
        ) from exc
