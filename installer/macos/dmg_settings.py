"""dmgbuild settings for the client's disk image (macOS only: dmgbuild drives hdiutil).

    pip install dmgbuild
    dmgbuild -s installer/macos/dmg_settings.py -D app=dist/Montage.app Montage dist/Montage.dmg

The window shows Montage.app beside a link to /Applications: a person drags
one onto the other. Signing and notarising the app (codesign, notarytool) come
before this step and need the project's Apple Developer ID, which CI does not
hold; an unsigned app opens after a right-click > Open.
"""

import os.path

application = defines.get("app", "dist/Montage.app")  # noqa: F821 (dmgbuild's -D values)
appname = os.path.basename(application)

format = "UDZO"  # zlib-compressed, read-only
filesystem = "HFS+"
files = [application]
symlinks = {"Applications": "/Applications"}
icon_locations = {appname: (140, 120), "Applications": (500, 120)}
window_rect = ((200, 120), (640, 300))
default_view = "icon-view"
show_status_bar = False
show_toolbar = False
show_sidebar = False
icon_size = 128
