"""Domain logic: pure, testable without I/O (review of a learner's Czech, feedback, statistics, streaks)."""
