"""Admin commands: ``python -m app.cli users|keys|audit|quality|freshness|ingestions|export ...``.

One module per command group; each command is a typed function that parses its options into an
async action, which ``main`` runs with fresh clients. Exit codes: 0 done, 2 usage, 3 already
exists, 4 not found.
"""

from app.cli.main import main
from app.cli.runtime import EXIT_EXISTS, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE

__all__ = ["EXIT_EXISTS", "EXIT_NOT_FOUND", "EXIT_OK", "EXIT_USAGE", "main"]
