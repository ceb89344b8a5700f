from montage_cloud.cli import main

raise SystemExit(main())
