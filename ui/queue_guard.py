"""What Gradio's shared queue does not do by itself: limits per event and per visitor when a request joins, and a
way for a long handler to learn that its visitor left or pressed Stop.

Why: the queue has one `max_size` for every event together. One long clip running plus 32 queued clip requests
filled it, and every photo request and webcam join then got "Queue is full" (issue 18, item 3). And a handler
running in a worker thread is not stopped when its event is cancelled: Gradio frees the event's worker slot, the
thread runs on, and the next clip starts beside it. Gradio 6.31's Queue is used through `push`,
`event_queue_per_concurrency_id`, `active_jobs` and `event_ids_to_events` (pinned in requirements.txt;
tests/test_video_queue.py and tests/test_webcam_streams.py fail if they change).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    waiting: int  # requests of this kind waiting for a worker, from all visitors together
    per_visitor: int  # requests of this kind one visitor (one session) may have waiting or running
    busy: str  # said when `waiting` is reached
    again: str  # said when `per_visitor` is reached


def install(demo, limits: dict) -> None:
    """Check `limits` ({concurrency_id: Limit}) whenever a request joins `demo`'s queue (after `demo.queue()`).
    A refused request gets one sentence (HTTP 400, which Gradio's frontend shows as it is) and never takes a
    place in the queue."""
    queue = demo._queue
    push = queue.push

    async def guarded_push(body, request, username):
        fn = demo.fns.get(body.fn_index) if body.fn_index is not None else None
        limit = limits.get(getattr(fn, "concurrency_id", None))
        if limit is not None:
            refusal = _refusal(queue, fn.concurrency_id, body.session_hash, limit)
            if refusal:
                return False, refusal, "error"
        return await push(body, request, username)

    queue.push = guarded_push


def _refusal(queue, concurrency_id: str, session: str | None, limit: Limit) -> str:
    waiting = list(getattr(queue.event_queue_per_concurrency_id.get(concurrency_id), "queue", ()))
    running = [e for job in queue.active_jobs if job for e in job if e.concurrency_id == concurrency_id]
    if session is not None and sum(e.session_hash == session for e in waiting + running) >= limit.per_visitor:
        return limit.again
    if len(waiting) >= limit.waiting:
        return limit.busy
    return ""


def still_wanted() -> bool:
    """Inside an event handler: False once its visitor has left, pressed Stop, or the event was cancelled, so
    that long work stops between two steps instead of running on for nobody. True outside Gradio's queue."""
    from gradio.context import LocalContext

    blocks = LocalContext.blocks.get(None)
    event_id = LocalContext.event_id.get(None)
    queue = getattr(blocks, "_queue", None)
    if queue is None or event_id is None:
        return True
    event = queue.event_ids_to_events.get(event_id)
    return event is not None and event.alive
