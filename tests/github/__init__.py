"""The GitHub emulator (emulator.py) and its tests; docs/github-emulator.md tells the story."""
