"""Who spoke when, as pure computation: speech windows' embeddings clustered into speakers
(scikit-learn), speakers into turns, and whether an assignment is reliable. The `speaker` Triton
model embeds the windows (tasks/inference/speaker_client.py); tasks/transcribe/speakers.py applies
the turns to a transcript. Imports nothing else from tasks/."""
