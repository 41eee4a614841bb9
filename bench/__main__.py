"""`python -m bench` is `loopvec`."""
import sys

from bench.cli import main

sys.exit(main())
