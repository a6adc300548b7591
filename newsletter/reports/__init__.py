"""Reports for the board: training-link engagement by course, agency and month."""
