"""What people do with the machine's results: reviews, the review queues and samples, rule quality
(precision, version comparison)."""
