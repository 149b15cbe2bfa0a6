"""`python -m mluv.telegram.sandbox`: the same as `mluv sandbox`."""

from mluv.telegram.sandbox.runner import main

raise SystemExit(main())
