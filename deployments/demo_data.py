"""A small demo dataset: German and French sentences in several parquet objects, with a
few bad rows (null, empty, whitespace-only text) that must come out as `skipped_empty`."""
from __future__ import annotations

import io
import random

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.io.s3 import S3Connection
from tasks.io.s3_uri import S3Uri

GERMAN = {
    "subjects": ["Der Zug", "Die Lehrerin", "Unser Team", "Das Wetter", "Meine Nachbarin", "Der Bericht",
                 "Die Stadt Berlin", "Das neue Modell", "Der Arzt", "Die Firma"],
    "verbs": ["kommt heute", "beginnt morgen", "bleibt ruhig", "wird besser", "arbeitet viel",
              "braucht mehr Zeit", "kostet 1.250 Euro", "endet um 18 Uhr", "wartet am Bahnhof", "hilft uns"],
    "tails": ["in München.", "nach dem Essen.", "am Montag.", "seit drei Jahren.", "ohne Probleme.",
              "mit großer Freude.", "im Sommer.", "trotz des Regens.", "für alle Kunden.", "vor dem Termin."],
}
FRENCH = {
    "subjects": ["Le train", "La directrice", "Notre équipe", "Le temps", "Ma voisine", "Le rapport",
                 "La ville de Paris", "Le nouveau modèle", "Le médecin", "L'entreprise"],
    "verbs": ["arrive aujourd'hui", "commence demain", "reste calme", "devient meilleur", "travaille beaucoup",
              "a besoin de temps", "coûte 1 250 euros", "finit à 18 heures", "attend à la gare", "nous aide"],
    "tails": ["à Lyon.", "après le dîner.", "lundi matin.", "depuis trois ans.", "sans problème.",
              "avec plaisir.", "en été.", "malgré la pluie.", "pour tous les clients.", "avant le rendez-vous."],
}


def sentences(words: dict, count: int, rng: random.Random) -> list[str]:
    return [f"{rng.choice(words['subjects'])} {rng.choice(words['verbs'])} {rng.choice(words['tails'])}"
            for _ in range(count)]


def demo_tables(objects: int = 4, rows_per_object: int = 80, seed: int = 7) -> dict[str, pa.Table]:
    rng = random.Random(seed)
    tables = {}
    for n in range(objects):
        texts = sentences(GERMAN, rows_per_object // 2, rng) + sentences(FRENCH, rows_per_object // 2, rng)
        rng.shuffle(texts)
        if n == 0:  # the bad rows: null, empty and whitespace-only text
            texts[3], texts[10], texts[17] = None, "", "   "
        ids = [f"doc-{n:02d}-{i:04d}" for i in range(len(texts))]
        tables[f"part-{n:02d}.parquet"] = pa.table({
            "id": ids, "text": pa.array(texts, pa.string()), "source": [f"feed-{n % 2}"] * len(texts)})
    return tables


def ensure_bucket(conn: S3Connection, bucket: str) -> None:
    client = conn.boto3_client()
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        client.create_bucket(Bucket=bucket)


def upload_table(conn: S3Connection, target: S3Uri, table: pa.Table, row_group_size: int = 32) -> None:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=row_group_size)
    conn.boto3_client().put_object(Bucket=target.bucket, Key=target.key, Body=buffer.getvalue())


def write_demo_dataset(conn: S3Connection, prefix_uri: str) -> list[str]:
    root = S3Uri.parse(prefix_uri)
    ensure_bucket(conn, root.bucket)
    written = []
    for name, table in demo_tables().items():
        target = root.join(name)
        upload_table(conn, target, table)
        written.append(str(target))
    return written


def demo_quarantine_limit(flow) -> dict:
    """`max_quarantined_share=1.0` for a demo run when the flow takes it: the demo's translations come
    from the tiny random-weight model (`make models`), whose output is noise the guards rightly
    quarantine almost whole; with the default limit (0.5) the demo would end Failed by design."""
    import inspect

    takes = "max_quarantined_share" in inspect.signature(getattr(flow, "fn", flow)).parameters
    return {"max_quarantined_share": 1.0} if takes else {}
