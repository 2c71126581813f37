"""Reading the data: the AudioCaps layout, its caption tables and audio decoding."""
