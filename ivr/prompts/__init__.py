"""What callers hear that we make: system and menu prompts spoken by espeak-ng into 8 kHz
WAV (``build``), cached by content hash (``library``), and the music-on-hold chime
(``moh``). Imports only the kernel's settings; no database, web or command line.
"""
