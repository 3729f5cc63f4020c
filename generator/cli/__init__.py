"""Command line: ``python -m generator fetch | train | sample | evaluate``.

Every failure a user can cause (a bad flag, an out-of-bounds setting, a missing
or damaged model file, an unwritable output) ends with one line on stderr and a
non-zero exit status, never a traceback.

Examples
--------
::

    python -m generator fetch mnist
    python -m generator train --preset sharp --out model.npz
    python -m generator train --dataset mnist --components 50 --kernel gaussian \\
        --bandwidth cv --out model.npz
    python -m generator sample model.npz -n 10000 --seed 0 --digit 7 --out samples.npz
    python -m generator sample model.npz -n 64 --out grid.png --scale 3
    python -m generator evaluate model.npz -n 2000
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from generator.cli.arguments import (
    EXIT_USAGE,
    PROGRAM,
    SETTING_FLAGS,
    build_parser,
    one_line,
)
from generator.cli.commands import COMMANDS, CommandError

__all__ = ["EXIT_ERROR", "EXIT_USAGE", "CommandError", "build_parser", "main"]

EXIT_ERROR = 1


def _error_message(error: BaseException) -> str:
    from generator.settings import SettingsError

    if isinstance(error, SettingsError):
        return "; ".join(
            f"{SETTING_FLAGS.get(field, field)}: {one_line(message)}"
            for field, message in error.errors.items()
        )
    if isinstance(error, OSError) and error.filename is not None:
        reason = error.strerror or type(error).__name__
        return f"{error.filename}: {reason}"
    text = one_line(str(error))
    return text or type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : sequence of str or None
        Arguments without the program name; ``None`` means ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 on success, 1 for a failed command, 2 for bad usage.

    Examples
    --------
    >>> main(["sample", "missing.npz", "--out", "x.npz"])
    1
    """
    parser = build_parser()
    try:
        arguments = parser.parse_args(argv)
    except SystemExit as exit_request:
        # --help and usage errors; argparse has already written its message.
        code = exit_request.code
        return code if isinstance(code, int) else EXIT_USAGE if code else 0
    command = COMMANDS[arguments.command]
    try:
        return command(arguments)
    except KeyboardInterrupt:
        print(f"{PROGRAM} {arguments.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        # The command line promises one line and never a traceback.
        print(
            f"{PROGRAM} {arguments.command}: error: {_error_message(error)}",
            file=sys.stderr,
        )
        return EXIT_ERROR
