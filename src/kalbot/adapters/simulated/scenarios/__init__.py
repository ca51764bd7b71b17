"""Where the simulated exchange's markets come from: a seeded generator, or recorded snapshots."""
