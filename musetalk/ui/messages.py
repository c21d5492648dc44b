"""Library messages in the page's words: the user's file name instead of a temporary path, no raw ffmpeg text,
and the page's buttons instead of CLI flags.

The library's sentences are written for the CLI, where a path and a flag are what the user typed; in the app
the user uploaded "interview.mp4" and sees buttons. No gradio here (tested alone).
"""
from __future__ import annotations

import re

# An absolute path (POSIX or Windows) up to a space, quote or the sentence's end; a trailing full stop or
# comma is not part of it.
_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:\\|/)[^\s'\"`]*[^\s'\"`.,:;)]")
# "... could not be opened as media: <ffmpeg's line>." -> the ffmpeg part is dropped.
_FFMPEG_DETAIL = [
    (re.compile(r"(could not be opened as media): [^.]*(\.[^ ]*)*\."), r"\1: it is damaged or not a media file."),
    (re.compile(r"(Could not decode the audio of \S+): .*?\.(\s|$)"), r"\1: the file looks damaged.\2"),
    (re.compile(r"ffmpeg failed while decoding (\S+) after (\d+) frames: .*?\.(\s|$)"),
     r"The video \1 could not be read past frame \2: the file looks damaged.\3"),
    (re.compile(r"No video frames could be decoded from (\S+) \(.*?\)\."),
     r"No video frames could be read from \1: the file looks damaged."),
]
# CLI wording -> the page's.
_PAGE_WORDS = [
    (re.compile(r"Run `python -m musetalk weights download[^`]*`( \([^)]*\))?( to fetch the official weights)?\."),
     "Press Download weights at the top of the page."),
    (re.compile(r"Prepare it with `python -m musetalk avatar prepare`\."), "Prepare it in step 1 first."),
    (re.compile(r"Pass the speech with --audio"), "Upload its speech in the optional speech box"),
    (re.compile(r"lower --batch-size"), "lower the Batch size"),
    (re.compile(r"Use --device cpu or auto\."), "Start the app with --device cpu or auto."),
    (re.compile(r"Use --dtype (\w+) or (\w+)\."), r"Start the app with --dtype \1 or \2."),
]


def file_name(path: str) -> str:
    """The last part of ``path``: gradio keeps the uploaded file's own name in its temporary folder."""
    return re.split(r"[\\/]", path.rstrip("\\/"))[-1] or path


def for_page(message: str) -> str:
    """``message`` with every absolute path shortened to its file name, ffmpeg's text dropped, CLI flags replaced."""
    text = message
    for pattern, repl in _PAGE_WORDS:
        text = pattern.sub(repl, text)
    text = _PATH.sub(lambda m: file_name(m.group(0)), text)
    for pattern, repl in _FFMPEG_DETAIL:
        text = pattern.sub(repl, text)
    return text
