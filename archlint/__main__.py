from archlint.cli import main

raise SystemExit(main())
