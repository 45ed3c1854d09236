"""The board agent: takes its target's jobs from the queue, one at a time, and sends the results back."""
