# Replaces PyInstaller's own hook for this Qt module: the same collection,
# less what installer/freeze_rules.py drops for the app being frozen.
from freeze_rules import qt_hook

hiddenimports, binaries, datas = qt_hook(__file__)
