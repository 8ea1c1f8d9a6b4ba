"""Text processing shared by the stages and the guards: sentence segmentation and alignment, and the
one py3langid identifier."""
