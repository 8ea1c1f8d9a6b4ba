"""`python -m tasks.guards.mt --input FILE --output OUT.parquet`: the same as `sentinel check-mt`."""

from tasks.guards.mt.cli import main

raise SystemExit(main())
