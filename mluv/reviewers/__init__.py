"""Reviewers that do I/O: the LLM reviewer (the offline reviewer is pure and lives in mluv.domain.review).

- `llm.py`: `review_text(...)`, what the review job calls: the offline review, merged with an
  OpenAI-compatible model's answer when configured (`LLM_*` settings), within budget, else offline.
- `client.py`: `POST {LLM_BASE_URL}/chat/completions` (aiohttp).
- `answer.py`: the prompt (the learner's language and level) and the strict schema of the answer.
- `merge.py`: the offline review and the model's answer as one review; a rule's finding is never dropped.
- `budget.py`, `cache.py`: the daily budgets and the week-long answer cache, in Redis.
"""
