"""``python -m basegear`` runs the ``gear`` command."""

import sys

from basegear.cli import main

sys.exit(main())
