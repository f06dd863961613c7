"""``python -m infra.local``: same as the ``voltops-local`` console script."""

import sys

from infra.local.run import main

sys.exit(main())
