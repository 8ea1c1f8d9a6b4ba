"""One row of the `transcribe` model: languages per speech region, retries of given regions, channels.

* No LANGUAGE given (and `language_per_region`, the default): the multilingual model detects the
  language of every VAD speech region (at most 30 s each). One language: the clip is decoded whole,
  as before, by the model for that language (English -> the default tiny.en, other -> whisper-base).
  Several: each language's regions are decoded by its model (clip_timestamps) and the segments
  merged in time order. A region whose language the requested model cannot write (English-only
  model, other language) is left untranscribed: never written over in English; the client's
  untranscribed-speech guard reports it with its language.
* `regions` given (a retry of speech a first pass left out): only those regions are decoded, each
  on its own, each with its own language detection.
* `channels="split"`: every channel of a stereo file is transcribed on its own (the above per
  channel); the row's text is all channels' segments in time order, each labelled `[ch<N>]`.
  `channel=N` transcribes channel N alone (the guard's per-channel retry).
"""
from __future__ import annotations

import numpy as np
from speech_regions import Region, blocks, parse_regions, seconds_of, vad_regions
from whisper_engine import (
    SAMPLE_RATE,
    AsrOptions,
    AudioError,
    ModelRouter,
    Transcript,
    decode,
    decode_channels,
    summarize,
)

BLOCK_S = 300.0  # long audio is decoded in blocks of at most ~5 min, cut in pauses (bounded memory)


def transcribe_row(router: ModelRouter, data: bytes, language: str | None, options: AsrOptions,
                   max_audio_s: float) -> Transcript:
    """Decode the audio bytes and transcribe them (per channel with channels="split"; one channel with
    `channel`)."""
    if options.channel is not None:
        channels = decode_channels(data, max_audio_s)
        if options.channel >= len(channels):
            raise AudioError(f"parameter channel={options.channel}: the audio has {len(channels)} channel(s)")
        return transcribe_samples(router, channels[options.channel], language, options)
    if options.channels != "split":
        return transcribe_samples(router, decode(data, max_audio_s), language, options)
    channels = [transcribe_samples(router, samples, language, options)
                for samples in decode_channels(data, max_audio_s)]
    return merge_channels(channels)


def transcribe_samples(router: ModelRouter, samples: np.ndarray, language: str | None,
                       options: AsrOptions) -> Transcript:
    duration = samples.size / SAMPLE_RATE
    regions = vad_regions(samples, options.vad_threshold, BLOCK_S)
    speech = seconds_of(regions)
    spans = blocks(regions, duration, BLOCK_S)
    if options.regions is not None:
        try:
            wanted = parse_regions(options.regions, duration)
        except ValueError as exc:
            raise AudioError(str(exc)) from None
        transcript = decode_regions(router, samples, wanted, language, options, spans, speech, each_alone=True)
    else:
        detector = router.detector(options.model)
        if language or detector is None or not regions or not options.language_per_region:
            engine = router.pick(options.model, language)
            segments, decoded = decode_blocks(engine, samples, language, options, spans)
            transcript = summarize(segments, decoded, duration, speech, engine.name)
            for region in regions:  # the language the model was told or detected; not checked per region
                region.language = language or (decoded if engine.multilingual else None)
        else:
            detect(detector, samples, regions)
            transcript = decode_regions(router, samples, regions, None, options, spans, speech, each_alone=False)
    transcript.speech_regions = [r.to_dict() for r in regions]
    return transcript


def decode_regions(router: ModelRouter, samples: np.ndarray, regions: list[Region], language: str | None,
                   options: AsrOptions, spans: list[tuple[float, float]], speech: float,
                   each_alone: bool) -> Transcript:
    """Decode `regions` with the model for each one's language (detected when not given and not yet
    known); regions of one language are decoded together unless `each_alone`. One language and not
    `each_alone`: the whole clip, as without regions."""
    duration = spans[-1][1]
    detector = router.detector(options.model)
    for region in regions:
        region.language = language or region.language
    if detector is not None:
        detect(detector, samples, [r for r in regions if r.language is None])
    languages = list(dict.fromkeys(r.language for r in regions))
    if len(languages) == 1 and not each_alone:
        engine = router.for_language(options.model, languages[0])
        if engine is None:
            return summarize([], languages[0] or "", duration, speech, router.pick(options.model, None).name)
        segments, decoded = decode_blocks(engine, samples, languages[0], options, spans)
        return summarize(segments, decoded, duration, speech, engine.name)
    if each_alone:
        groups = [[r] for r in regions]
    else:
        groups = [[r for r in regions if r.language == lang] for lang in languages]
    segments, served = [], []
    for group in groups:
        engine = router.for_language(options.model, group[0].language)
        if engine is None:
            continue  # other-language speech on an English-only requested model: left untranscribed
        clips = [(r.start, r.end) for r in group]
        decoded_segments, _ = decode_blocks(engine, samples, group[0].language, options, spans, clips)
        segments += [s for s in decoded_segments if _inside(s, group)]
        served.append(engine.name)
    model = ",".join(dict.fromkeys(served)) or router.pick(options.model, None).name
    return summarize(segments, language or (languages[0] or ""), duration, speech, model)


def decode_blocks(engine, samples: np.ndarray, language: str | None, options: AsrOptions,
                  spans: list[tuple[float, float]], clips: list[tuple[float, float]] | None = None
                  ) -> tuple[list[dict], str]:
    """engine.decode block by block (`spans`, cut in pauses: features and decoding state for one block
    at a time), timestamps shifted back to the clip; with `clips`, only the blocks holding them."""
    segments, decoded = [], language or ""
    batched = engine.use_batched(spans[-1][1])  # decided by the clip's length, not the block's
    for start, end in spans:
        inner = None
        if clips is not None:
            inner = [(max(a, start) - start, min(b, end) - start) for a, b in clips if a < end and b > start]
            if not inner:
                continue
        piece = samples[int(start * SAMPLE_RATE):int(np.ceil(end * SAMPLE_RATE))]
        found, decoded = engine.decode(piece, language, options, clips=inner, batched=batched)
        for segment in found:
            segment["start"], segment["end"] = round(segment["start"] + start, 3), round(segment["end"] + start, 3)
            for word in segment.get("words", ()):
                word["start"], word["end"] = round(word["start"] + start, 3), round(word["end"] + start, 3)
        segments += found
    return segments, decoded


def detect(detector, samples: np.ndarray, regions: list[Region]) -> None:
    """Set each region's language and probability (batched detection by the multilingual model)."""
    if regions:
        found = detector.detect_languages([r.samples(samples) for r in regions])
        for region, (language, probability) in zip(regions, found):
            region.language, region.language_prob = language, probability


def _inside(segment: dict, regions: list[Region]) -> bool:
    """A segment decoded from `regions` that overlaps one of them (Whisper may run past a clip's end)."""
    overlaps = any(segment["start"] < r.end and segment["end"] > r.start for r in regions)
    return overlaps or segment["start"] == segment["end"]


def merge_channels(channels: list[Transcript]) -> Transcript:
    """One row from per-channel transcripts: segments in time order labelled with their channel,
    scores over all segments, speech seconds summed; `channels` keeps each channel's transcript."""
    segments = sorted(({**s, "channel": c} for c, t in enumerate(channels) for s in t.segments),
                      key=lambda s: (s["start"], s["channel"]))
    text = " ".join(f"[ch{s['channel']}] {s['text']}" for s in segments)
    spoken = [t for t in channels if t.text]
    weights = [max(sum(s["end"] - s["start"] for s in t.segments), 1e-6) for t in spoken]
    seconds: dict[str, float] = {}
    for s in segments:
        lang = s.get("language") or channels[s["channel"]].language
        seconds[lang] = seconds.get(lang, 0.0) + max(s["end"] - s["start"], 0.0) + 1e-6
    languages = sorted(seconds, key=lambda lang: -seconds[lang])
    merged = Transcript(
        text=text, language=languages[0] if languages else (channels[0].language if channels else ""),
        avg_logprob=float(np.average([t.avg_logprob for t in spoken], weights=weights)) if spoken else 0.0,
        no_speech_prob=float(np.average([t.no_speech_prob for t in spoken], weights=weights)) if spoken else 1.0,
        compression_ratio=max((t.compression_ratio for t in channels), default=0.0),
        duration_s=max(t.duration_s for t in channels), speech_s=float(sum(t.speech_s for t in channels)),
        segments=segments, model=",".join(dict.fromkeys(m for t in channels for m in t.model.split(",") if m)),
        languages=languages,
        speech_regions=sorted(({**r, "channel": c} for c, t in enumerate(channels) for r in t.speech_regions),
                              key=lambda r: (r["start"], r["channel"])),
    )
    merged.channels = [channel_dict(c, t) for c, t in enumerate(channels)]
    return merged


def channel_dict(channel: int, t: Transcript) -> dict:
    return {"channel": channel, "text": t.text, "language": t.language, "languages": t.languages,
            "avg_logprob": t.avg_logprob, "no_speech_prob": t.no_speech_prob, "compression_ratio": t.compression_ratio,
            "duration_s": t.duration_s, "speech_s": t.speech_s, "segments": t.segments,
            "speech_regions": t.speech_regions, "model": t.model}
