"""The budget family: ads frame -> response curves -> optimizer -> plan."""
