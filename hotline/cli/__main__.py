"""``python -m hotline.cli`` runs the command line, as the ``hotline`` script does."""

import sys

from hotline.cli.main import main

sys.exit(main())
