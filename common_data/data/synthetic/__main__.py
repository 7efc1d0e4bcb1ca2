"""`python -m common_data.data.synthetic --out DIR`."""

import sys

from common_data.data.synthetic.build import main

sys.exit(main())
