"""The monthly S&OP pack: built on demand and on schedule, kept sealed, e-mailed to subscribers."""
