"""Hypothesis strategies shared by the stateful and property tests."""

from __future__ import annotations

from hypothesis import strategies as st

# An index into a list that may grow: rules take it modulo the list's length,
# so it shrinks towards the oldest element.
indices = st.integers(min_value=0, max_value=63)

# The positions of a gather's children, repeats allowed (a task given twice
# fills both places).
child_indices = st.lists(indices, max_size=4)

# Results a test hands to ManualPool.complete(task, result=...).
results = st.one_of(st.none(), st.integers(), st.text(max_size=3))
