from slm_core.cli import main

raise SystemExit(main())
