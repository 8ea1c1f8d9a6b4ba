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
        raise missing_block(block_type.get_block_type_slug(), name) from exc


def load_block_data(block_type_slug: str, name: str) -> dict:
    """A saved block's fields (secrets included), read from the Prefect API without importing the
    block's class: for a block type whose collection is slow to import and whose fields are plain
    (prefect-aws' `AwsCredentials`, ~0.7 s of import on every run for four strings)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            document = client.read_block_document_by_name(name=name, block_type_slug=block_type_slug,
                                                          include_secrets=True)
        except ObjectNotFound as exc:
            raise missing_block(block_type_slug, name) from exc
    return dict(document.data)


def missing_block(block_type_slug: str, name: str) -> MissingBlock:
    from prefect.settings import PREFECT_API_URL

    server = PREFECT_API_URL.value() or "the ephemeral API"
    return MissingBlock(
        f"no {block_type_slug} block named {name!r} on the Prefect server at {server}: "
        f"`sentinel blocks register` saves the default blocks (local-triton, sentinel-s3, mt-guards-default, "
        f"asr-guards-default), or create {name!r} in the Prefect UI (Blocks), or pass another block name")
