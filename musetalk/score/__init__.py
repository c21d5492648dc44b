"""Scores of generated videos: lip sync (SyncNet LSE-C / LSE-D) and its siblings; import the submodules directly."""
