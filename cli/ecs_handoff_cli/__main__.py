import sys

from ecs_handoff_cli.main import main

sys.exit(main())
