"""``python -m geodln.cli``: the ``geodln`` command."""

import sys

from .main import main

sys.exit(main())
