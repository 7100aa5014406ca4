"""Tree: an immutable forest of coded nodes (the taxonomy, the areas) and its order facts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Generic, Protocol, TypeVar


class Node(Protocol):
    code: str
    parent: str | None


N = TypeVar("N", bound=Node)


class Tree(Generic[N]):
    """A forest built from nodes whose parents all exist and form no cycle.

    Nodes are numbered in pre-order (children by code), so that every subtree is the
    contiguous range `[pos(code), end(code))`: the compiler paints rules onto such ranges.
    Depth counts from 1 at a root, as the precedence key wants.
    """

    def __init__(self, nodes: Iterable[N]):
        self._nodes: dict[str, N] = {n.code: n for n in nodes}
        children: dict[str | None, list[str]] = {}
        for node in self._nodes.values():
            children.setdefault(node.parent, []).append(node.code)
        for kids in children.values():
            kids.sort()
        self._children = {k: tuple(v) for k, v in children.items()}
        order: list[str] = []
        end: dict[str, int] = {}
        depth: dict[str, int] = {}
        # iterative pre-order: deep trees must not hit the recursion limit
        stack: list[tuple[str, int, bool]] = [(c, 1, False) for c in reversed(self._children.get(None, ()))]
        while stack:
            code, d, done = stack.pop()
            if done:
                end[code] = len(order)
                continue
            depth[code] = d
            order.append(code)
            stack.append((code, d, True))
            stack.extend((c, d + 1, False) for c in reversed(self._children.get(code, ())))
        if len(order) != len(self._nodes):
            raise ValueError("tree has a cycle or a dangling parent; validate before building")
        self._order = tuple(order)
        self._pos = {code: i for i, code in enumerate(order)}
        self._end = end
        self._depth = depth

    def __contains__(self, code: object) -> bool:
        return code in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[N]:
        return (self._nodes[c] for c in self._order)

    def __getitem__(self, code: str) -> N:
        return self._nodes[code]

    @property
    def order(self) -> tuple[str, ...]:
        """Codes in pre-order."""
        return self._order

    def children(self, code: str | None) -> tuple[str, ...]:
        return self._children.get(code, ())

    def roots(self) -> tuple[str, ...]:
        return self.children(None)

    def is_leaf(self, code: str) -> bool:
        return not self._children.get(code)

    def leaves(self) -> list[str]:
        return [c for c in self._order if self.is_leaf(c)]

    def depth(self, code: str) -> int:
        return self._depth[code]

    def pos(self, code: str) -> int:
        return self._pos[code]

    def end(self, code: str) -> int:
        """One past the last pre-order position in `code`'s subtree."""
        return self._end[code]

    def path(self, code: str) -> Iterator[N]:
        """The node and its ancestors, nearest first."""
        current: str | None = code
        while current is not None:
            node = self._nodes[current]
            yield node
            current = node.parent

    def covers(self, ancestor: str, code: str) -> bool:
        """True when `ancestor` is `code` or one of its ancestors."""
        return self._pos[ancestor] <= self._pos[code] < self._end[ancestor]
