"""The speech-translate stage: transcribe, then translate the transcripts (it composes the two
other stages), keeping language runs and channels."""
