"""The approval gate's pure parts: signed per-approver links and the review page."""
