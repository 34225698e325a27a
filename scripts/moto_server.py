#!/usr/bin/env python3
"""Starts moto's server (SQS, EventBridge Scheduler) for the local stack, with one performance
fix for FIFO queues.

moto answers "what is this queue's ContentBasedDeduplication?" by building every queue
attribute, including the approximate message counts, which walk the whole queue. A FIFO send
asks that several times per message, so each send costs time proportional to the queue's
length, and filling a queue with 100,000 messages takes hours. While a send is in progress
the counts are never read (a send's response holds none), so this launcher answers them with
0 inside sends. Everything else is moto's own behaviour, unchanged.

Usage: moto_server.py HOST PORT
"""
import sys
import threading

from moto.server import main as moto_main
from moto.sqs import models

_COUNTS = (
    "approximate_number_of_messages",
    "approximate_number_of_messages_not_visible",
    "approximate_number_of_messages_delayed",
)
_depth = threading.local()


def _in_send():
    return getattr(_depth, "value", 0) > 0


def _count_outside_sends(prop):
    return property(lambda queue: 0 if _in_send() else prop.fget(queue))


def _marked_as_send(method):
    def wrapper(*args, **kwargs):
        _depth.value = getattr(_depth, "value", 0) + 1
        try:
            return method(*args, **kwargs)
        finally:
            _depth.value -= 1

    return wrapper


for name in _COUNTS:
    setattr(models.Queue, name, _count_outside_sends(getattr(models.Queue, name)))
for name in ("send_message", "send_message_batch"):
    setattr(models.SQSBackend, name, _marked_as_send(getattr(models.SQSBackend, name)))

if __name__ == "__main__":
    host, port = sys.argv[1], sys.argv[2]
    moto_main(["-H", host, "-p", port])
