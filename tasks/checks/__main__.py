"""`python -m tasks.checks --input FILE --output OUT.parquet`: the same as `sentinel check-mt`."""

from tasks.checks.check_mt_cli import main

raise SystemExit(main())
