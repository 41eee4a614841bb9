"""`python -m loopvec.bench` is `loopvec`."""
import sys

from loopvec.bench.cli.main import main

sys.exit(main())
