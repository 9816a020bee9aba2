#!/bin/sh
# Redis in the foreground, reachable from the network, no persistence (the `cache` service).
exec redis-server --bind 0.0.0.0 --protected-mode no --save '' --appendonly no "$@"
