from artfarm.cli.main import main

raise SystemExit(main())
