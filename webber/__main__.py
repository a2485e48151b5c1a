"""``python -m webber``: see :mod:`webber._cli`."""

import sys

from webber._cli import main

sys.exit(main())
