import sys

from basegear.cli import main

sys.exit(main())
