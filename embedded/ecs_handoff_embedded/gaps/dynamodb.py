"""#15 DynamoDB: reads from a global secondary index are eventually consistent ("DynamoDB read consistency":
"All reads from GSIs and streams are eventually consistent"; a write usually reaches the index within a
second). moto's indexes show every write at once. With a lag set, Query and Scan on a global secondary index
see each table as it was that long ago: an item written since is missing, an item changed since shows its
old attributes, an item deleted since is still there. GetItem, and Query or Scan of the table itself, stay
current (handoff reads the table with ConsistentRead where it must be exact)."""

from __future__ import annotations

import copy
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from ecs_handoff_embedded.gaps.patching import Undo, all_of, replace

# (hash key, range key or None): how moto keys an item in Table.items
Key = tuple[Any, Any]


class WriteLog:
    """Per table, each item's versions before the writes of the last `lag` seconds: enough to rebuild the
    table as it was `lag` seconds ago. Nothing is kept while the lag is 0."""

    def __init__(self, lag_seconds: Callable[[], float]) -> None:
        self.lag_seconds = lag_seconds
        self.lock = threading.RLock()
        # table name -> item key -> [(when written, the item before that write, or None: it did not exist)]
        self._before: dict[str, dict[Key, list[tuple[float, Any]]]] = defaultdict(dict)

    def record(self, table: Any, key: Key, before: Any) -> None:
        lag = self.lag_seconds()
        if lag <= 0:
            self._before.pop(table.name, None)
            return
        now = time.monotonic()
        versions = self._before[table.name]
        versions.setdefault(key, []).append((now, before))
        for old in [k for k, writes in versions.items() if writes[-1][0] < now - lag]:
            del versions[old]  # every write to it is older than the lag: the index shows it as it is

    def as_of(self, table: Any, lag: float) -> Any:
        """A copy of the table (sharing its items) holding each item as it was `lag` seconds ago."""
        cutoff = time.monotonic() - lag
        stale = copy.copy(table)
        if table.range_key_attr:
            stale.items = defaultdict(dict, {h: dict(by_range) for h, by_range in table.items.items()})
        else:
            stale.items = defaultdict(dict, table.items)
        for (hash_key, range_key), writes in self._before.get(table.name, {}).items():
            recent = [before for when, before in writes if when > cutoff]
            if not recent:
                continue
            then = recent[0]  # the item before the first write the index has not seen yet
            if table.range_key_attr:
                if then is None:
                    stale.items.get(hash_key, {}).pop(range_key, None)
                else:
                    stale.items[hash_key][range_key] = then
            elif then is None:
                stale.items.pop(hash_key, None)
            else:
                stale.items[hash_key] = then
        return stale


def _key(table: Any, item: Any) -> Key:
    return item.hash_key, item.range_key if table.range_key_attr else None


def _global_index(table: Any, index_name: str | None) -> bool:
    return bool(index_name) and any(index.name == index_name for index in table.global_indexes or [])


def install_index_lag(lag_seconds: Callable[[], float]) -> Undo:
    """Query and Scan on a global secondary index see the table as it was `lag_seconds()` ago."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    log = WriteLog(lag_seconds)
    original_put, original_delete = Table.put_item, Table.delete_item
    original_update = DynamoDBBackend.update_item
    original_query, original_scan = Table.query, Table.scan

    def current(table: Any, hash_value: Any, range_value: Any) -> Any:
        try:
            found = table.get_item(hash_value, range_value)
        except Exception:  # moto's own call raises its validation error right after
            return None
        return copy.deepcopy(found)

    def put_item(self: Any, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        with log.lock:
            if log.lag_seconds() <= 0 or self.hash_key_attr not in item_attrs:
                return original_put(self, item_attrs, *args, **kwargs)
            range_attr = self.range_key_attr
            range_value = DynamoType(item_attrs[range_attr]) if range_attr and range_attr in item_attrs else None
            before = current(self, DynamoType(item_attrs[self.hash_key_attr]), range_value)
            item = original_put(self, item_attrs, *args, **kwargs)
            log.record(self, _key(self, item), before)
            return item

    def delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        with log.lock:
            item = original_delete(self, hash_key, range_key)
            if item is not None:
                log.record(self, _key(self, item), item)
            return item

    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        with log.lock:
            if log.lag_seconds() <= 0:
                return original_update(self, table_name, key, *args, **kwargs)
            table = self.get_table(table_name)
            hash_value, range_value = self.get_keys_value(table, key)
            before = current(table, hash_value, range_value)
            item = original_update(self, table_name, key, *args, **kwargs)  # changes moto's item in place
            log.record(table, _key(table, item), before)
            return item

    def lagging(original: Callable[..., Any], index_position: int) -> Callable[..., Any]:
        def read(self: Any, *args: Any, **kwargs: Any) -> Any:
            index_name = kwargs.get("index_name", args[index_position] if len(args) > index_position else None)
            lag = lag_seconds()
            if lag <= 0 or not _global_index(self, index_name):
                return original(self, *args, **kwargs)
            with log.lock:
                stale = log.as_of(self, lag)
            return original(stale, *args, **kwargs)

        return read

    # Table.query(hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
    # projection_expressions, index_name, ...); Table.scan(filters, limit, exclusive_start_key,
    # filter_expression, index_name, ...): where index_name sits when passed by position.
    return all_of(
        replace(Table, "put_item", put_item),
        replace(Table, "delete_item", delete_item),
        replace(DynamoDBBackend, "update_item", update_item),
        replace(Table, "query", lagging(original_query, 7)),
        replace(Table, "scan", lagging(original_scan, 4)),
    )
