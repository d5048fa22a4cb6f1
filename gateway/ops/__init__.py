"""Operations: metrics, health, logging setup.

Metric labels are node ids, kinds, states and reason codes only: never message content,
names or anything else that could identify a victim.
"""

from __future__ import annotations
