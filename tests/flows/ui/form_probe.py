"""A flow whose parameters use flows/parameters.py the way the batch flows do: the browser test
deploys it (no work pool) and checks its run form."""
from typing import Annotated

from prefect import flow

from flows.parameters import LanguageCode, OptionalName, Param, S3Prefix, SourceLanguage


@flow(name="sentinel-form-probe")
def form_probe(
    input_uri: Annotated[S3Prefix, Param("Input", "s3:// prefix (or one object) of parquet files")],
    source_lang: Annotated[SourceLanguage, Param("Source language", "'auto' detects per row")] = "auto",
    target_lang: Annotated[LanguageCode, Param("Target language")] = "en",
    guard_settings: Annotated[OptionalName, Param("MT guards block", "empty = the calibrated defaults")] = "",
    triton_endpoint: Annotated[OptionalName, Param("Triton endpoint block")] = "local-triton",
) -> dict:
    return {"input_uri": input_uri, "source_lang": source_lang, "guard_settings": guard_settings}
