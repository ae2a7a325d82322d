import sys

from flowalerts.cli import main

sys.exit(main())
