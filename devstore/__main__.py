"""`python -m devstore ...`: the same as `imprint devstore ...`, without Imprint."""

import sys

from devstore.cli import main

sys.exit(main())
