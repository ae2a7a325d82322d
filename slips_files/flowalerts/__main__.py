import sys

from flowalerts.cli.main import main

sys.exit(main())
