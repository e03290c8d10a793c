from paidui.cli import main

raise SystemExit(main())
