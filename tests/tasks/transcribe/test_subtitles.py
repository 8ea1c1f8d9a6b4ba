"""WebVTT and SRT from segment timestamps (plain functions), and writing them to S3."""
import json

import pytest

from tasks.transcribe.subtitles import cues, subtitle_key, to_srt, to_webvtt, write_subtitles

SEGMENTS = [
    {"start": 4.16, "end": 9.64, "text": "Please send the figures.", "language": "en"},
    {"start": 0.0, "end": 4.16, "text": "The report shows growth.", "language": "en",
     "words": [{"start": 0.0, "end": 0.4, "word": "The"}, {"start": 0.4, "end": 1.1, "word": "report"}]},
    {"start": 9.64, "end": 9.7, "text": "...", "language": "en"},
    {"start": 3725.5, "end": 3727.25, "text": "A < B --> C & D", "language": "en"},
]


def test_webvtt_cues_in_time_order_without_non_words():
    vtt = to_webvtt(SEGMENTS)
    assert vtt.startswith("WEBVTT\n\n1\n00:00:00.000 --> 00:00:04.160\nThe report shows growth.\n\n2\n")
    assert "00:00:04.160 --> 00:00:09.640\nPlease send the figures." in vtt
    assert "..." not in vtt and "01:02:05.500 --> 01:02:07.250\nA &lt; B --&gt; C &amp; D" in vtt


def test_srt_uses_commas_and_numbers_every_cue():
    srt = to_srt(json.dumps(SEGMENTS))
    assert srt.startswith("1\n00:00:00,000 --> 00:00:04,160\nThe report shows growth.\n\n2\n00:00:04,160 --> ")
    assert srt.count(" --> ") == 3 and "01:02:05,500 --> 01:02:07,250" in srt


def test_word_cues_and_channel_labels():
    words = cues(SEGMENTS, words=True)
    assert [c["text"] for c in words[:2]] == ["The", "report"]
    split = [{"start": 0.0, "end": 2.0, "text": "Hello.", "channel": 0},
             {"start": 1.0, "end": 3.0, "text": "Hi.", "channel": 1}]
    assert "<v ch0>Hello." in to_webvtt(split) and "[ch1] Hi." in to_srt(split)


def test_empty_transcript_gives_an_empty_but_valid_file():
    assert to_webvtt([]) == "WEBVTT\n" and to_srt(None) == ""


def test_subtitle_keys_are_path_safe():
    assert subtitle_key("s3://b/run/", "call/01", "vtt") == "s3://b/run/subtitles/call_01.vtt"
    with pytest.raises(ValueError, match="not one of vtt, srt"):
        subtitle_key("s3://b/run", "x", "ass")


@pytest.mark.integration
def test_write_subtitles_puts_both_files(s3_conn, bucket):
    uris = write_subtitles(s3_conn, f"s3://{bucket}/subs-run", "clip-1", SEGMENTS)
    assert uris == [f"s3://{bucket}/subs-run/subtitles/clip-1.vtt", f"s3://{bucket}/subs-run/subtitles/clip-1.srt"]
    body = s3_conn.boto3_client().get_object(Bucket=bucket, Key="subs-run/subtitles/clip-1.vtt")["Body"].read()
    assert body.decode().startswith("WEBVTT")


def test_diarized_segments_carry_their_speaker():
    segments = [{"start": 0.0, "end": 2.0, "text": "Good morning.", "speaker": "S1",
                 "words": [{"start": 0.0, "end": 0.5, "word": "Good"}, {"start": 0.5, "end": 1.2, "word": "morning."}]},
                {"start": 2.5, "end": 3.0, "text": "Hi.", "speaker": "S2"}]
    assert "<v S1>Good morning." in to_webvtt(segments) and "<v S2>Hi." in to_webvtt(segments)
    assert "\n[S1] Good morning.\n" in to_srt(segments) and "\n[S2] Hi.\n" in to_srt(segments)
    assert [c["label"] for c in cues(segments, words=True)] == ["S1", "S1", "S2"]
    assert "<v S1>morning." in to_webvtt(segments, words=True)
