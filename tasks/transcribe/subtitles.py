"""Subtitles of one clip from its transcript segments (the `segments` column: JSON list of
{start, end, text, language?, channel?, speaker?, words?}): WebVTT and SRT, plain text out.

    vtt = to_webvtt(segments)            # "WEBVTT\\n\\n1\\n00:00:00.000 --> 00:00:04.160\\n..."
    srt = to_srt(segments)
    write_subtitles(conn, run_dir, clip_id, segments, formats=("vtt", "srt"))  # <run_dir>/subtitles/<id>.vtt|.srt

Cues are the segments in time order (non-word segments dropped; a cue never ends before it starts);
a split-channel segment's text is prefixed with its channel (`[ch1] ...`, a WebVTT voice tag
`<v ch1>` in .vtt), a diarized segment's with its speaker (`[S1] ...` in .srt, `<v S1>` in .vtt).
With `words=True`, segments carrying word timestamps (request parameter `word_timestamps`) become
one cue per word.

Written here, not with webvtt-py / srt: the two formats are a timestamp and a cue each, while what
is ours (which segments become cues, channel labels and voice tags, one cue per word) would be
the same code around a library; it writes to S3, not to files.
"""
from __future__ import annotations

import json

from tasks.guards.asr.nonwords import is_non_words

FORMATS = ("vtt", "srt")


def _timestamp(seconds: float, separator: str) -> str:
    millis = max(int(round(seconds * 1000)), 0)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _segments(segments: list[dict] | str | None) -> list[dict]:
    if isinstance(segments, str):
        segments = json.loads(segments or "[]")
    return list(segments or [])


def cues(segments: list[dict] | str | None, words: bool = False) -> list[dict]:
    """(start, end, text, label) per cue, in time order (label: the speaker, else `ch<N>`, else None);
    word cues where asked and present."""
    out = []
    for segment in _segments(segments):
        units = segment.get("words") if words and segment.get("words") else [segment]
        for unit in units:
            text = (unit.get("word") if "word" in unit else unit.get("text") or "").strip()
            if is_non_words(text):
                continue
            start = float(unit["start"])
            out.append({"start": start, "end": max(float(unit["end"]), start), "text": text,
                        "label": _label(segment)})
    return sorted(out, key=lambda c: (c["start"], c["end"]))


def _label(segment: dict) -> str | None:
    if segment.get("speaker"):
        return str(segment["speaker"])
    return f"ch{segment['channel']}" if segment.get("channel") is not None else None


def _escape_vtt(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # "-->" becomes "--&gt;"


def to_webvtt(segments: list[dict] | str | None, words: bool = False) -> str:
    lines = ["WEBVTT", ""]
    for n, cue in enumerate(cues(segments, words), start=1):
        voice = f"<v {_escape_vtt(cue['label'])}>" if cue["label"] is not None else ""
        lines += [str(n), f"{_timestamp(cue['start'], '.')} --> {_timestamp(cue['end'], '.')}",
                  voice + _escape_vtt(cue["text"]), ""]
    return "\n".join(lines)


def to_srt(segments: list[dict] | str | None, words: bool = False) -> str:
    lines = []
    for n, cue in enumerate(cues(segments, words), start=1):
        label = f"[{cue['label']}] " if cue["label"] is not None else ""
        lines += [str(n), f"{_timestamp(cue['start'], ',')} --> {_timestamp(cue['end'], ',')}",
                  label + cue["text"].replace("-->", "->"), ""]
    return "\n".join(lines)


def subtitle_key(run_dir: str, clip_id, fmt: str) -> str:
    """`<run_dir>/subtitles/<id>.<fmt>`; ids are made path-safe ('/' and other odd characters -> '_')."""
    if fmt not in FORMATS:
        raise ValueError(f"subtitle format {fmt!r} is not one of {', '.join(FORMATS)}")
    safe = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in str(clip_id)).lstrip(".") or "_"
    return f"{run_dir.rstrip('/')}/subtitles/{safe}.{fmt}"


def render(segments: list[dict] | str | None, fmt: str, words: bool = False) -> str:
    if fmt == "vtt":
        return to_webvtt(segments, words)
    if fmt == "srt":
        return to_srt(segments, words)
    raise ValueError(f"subtitle format {fmt!r} is not one of {', '.join(FORMATS)}")


def write_subtitles(conn, run_dir: str, clip_id, segments: list[dict] | str | None,
                    formats: tuple[str, ...] = FORMATS, words: bool = False) -> list[str]:
    """Put one subtitle file per format under `<run_dir>/subtitles/` (run_dir an s3:// URI); the URIs."""
    from tasks.io.s3_uri import S3Uri

    written = []
    client = conn.boto3_client()
    for fmt in formats:
        uri = subtitle_key(run_dir, clip_id, fmt)
        target = S3Uri.parse(uri)
        content_type = "text/vtt" if fmt == "vtt" else "application/x-subrip"
        client.put_object(Bucket=target.bucket, Key=target.key, Body=render(segments, fmt, words).encode("utf-8"),
                          ContentType=f"{content_type}; charset=utf-8")
        written.append(uri)
    return written
