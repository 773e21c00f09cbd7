"""What the three trainers' command lines share (train.py, decoder.py, generator.py): the run arguments and the
run folder's train.log, which every line of progress goes to as well as to stdout."""
from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch


def trainer_parser(description: str | None, minutes_help: str = "wall-clock budget (schedule follows it)") -> argparse.ArgumentParser:
    """--config, --out, --minutes, --resume, --device; a trainer adds its own after these."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="run folder for train.log and last.pt")
    parser.add_argument("--minutes", type=float, default=None, help=minutes_help)
    parser.add_argument("--resume", action="store_true", help="continue from <out>/last.pt")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu | cuda")
    return parser


@contextmanager
def run_log(out: Path) -> Iterator[Callable[[str], None]]:
    """A log function that prints a line and appends it to <out>/train.log (flushed, so a killed run keeps it)."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "train.log", "a") as log_file:
        def log(line: str) -> None:
            print(line, flush=True)
            log_file.write(line + "\n")
            log_file.flush()
        yield log
