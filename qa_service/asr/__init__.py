"""Audio -> utterances: decoding, the embedded Whisper model, recognition, crosstalk, mono
diarization. The only place faster-whisper is loaded."""
