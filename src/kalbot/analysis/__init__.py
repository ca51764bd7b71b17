"""The analyst: prompts, reply parsing, the decision rule, cost table, budget guard, heuristic.

Pure: no I/O library is imported here. Language models arrive through
``kalbot.ports.CompletionClient`` and records through ``kalbot.ports.AIStore``.
"""
