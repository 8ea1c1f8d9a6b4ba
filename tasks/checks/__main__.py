"""`python -m tasks.checks --input FILE --output OUT.parquet`: the same as `sentinel check-mt`."""

from tasks.checks.mt_checker import main

raise SystemExit(main())
