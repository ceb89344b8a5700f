"""An API process for tests: `montage-cloud serve` with meeting IDs drawn from a tiny range.

A range of a few dozen IDs makes processes collide on purpose, so the test
exercises the race that the database's unique key must settle.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets

from montage_cloud.server import ServeOptions, serve
from montage_cloud.service import CloudConfig


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--id-space", type=int, required=True)
    parser.add_argument("--admin-token", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    options = ServeOptions(
        host="127.0.0.1",
        port=0,
        database=args.db,
        config=CloudConfig(admin_token=args.admin_token),
    )
    space = args.id_space
    asyncio.run(serve(options, randbelow=lambda _n: secrets.randbelow(space)))


if __name__ == "__main__":
    main()
