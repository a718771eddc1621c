"""A book on disk: finding it, reading it, checking it, and making a new one."""
