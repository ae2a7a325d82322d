import sys

from flowalerts.core.cli import main

sys.exit(main())
