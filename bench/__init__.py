"""loopvec's command line and benchmark suite (the implementations live in `impls`)."""
