from tickr_app.cli import main

raise SystemExit(main())
