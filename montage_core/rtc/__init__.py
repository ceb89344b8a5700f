"""WebRTC set-up shared by both sides: peer connections, codec order, encoder hints."""
