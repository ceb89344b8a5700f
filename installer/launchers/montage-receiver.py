"""The frozen receiver's start script: the same entry point as `pip install 'montage[receiver]'`."""

from montage_receiver.entry import main

main()
