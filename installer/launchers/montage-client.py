"""The frozen client's start script: the same entry point as `pip install 'montage[client]'`."""

from montage_client.entry import main

main()
