"""Modal screens: job details, confirmations, the drain on quit, and the keys."""
