"""Selection: which framework and target can take a model, and how fast they would run it."""
