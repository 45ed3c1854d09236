"""The process boundary: each job is measured in a worker process that speaks JSON job/result records."""
