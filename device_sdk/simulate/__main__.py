"""``python -m device_sdk.simulate``: see :mod:`device_sdk.simulate.cli`."""

from device_sdk.simulate.cli import main

raise SystemExit(main())
