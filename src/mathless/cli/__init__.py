"""The `mathless` command line."""
