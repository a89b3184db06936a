import sys

from trendcast.cli import main

sys.exit(main())
