"""Built-in tasks that need no download, each deterministic given a seed.

>>> sorted(t.name for t in list_tasks())[:3]
['beale', 'char_lm', 'digits']
"""

from __future__ import annotations

from lrkit.tasks import classify, functions, language
from lrkit.tasks.base import Batches, Task, TaskInfo, list_tasks, make_task
from lrkit.tasks.functions import SURFACES, Surface

__all__ = [
    "SURFACES",
    "Batches",
    "Surface",
    "Task",
    "TaskInfo",
    "classify",
    "functions",
    "language",
    "list_tasks",
    "make_task",
]
