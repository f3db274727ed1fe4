"""One harness for the tests, the benchmarks and the simulator: the real servers and lines
they all run against, started the same way everywhere.

    ports.py          free_port() (port 0, loopback) and listening()
    pty_pair.py       PtyPair: a raw pseudo-terminal pair (the line a serial pad sits on)
    binaries.py       find_binary(): Debian's path first, then PATH; HarnessError otherwise
    mosquitto.py      Broker: one real mosquitto on a free port (persistence, users, ACL)
    redis_server.py   RedisServer: one real redis-server on a free port; redis_argv()
    redis_cluster.py  LocalCluster: a real Redis Cluster of redis-server nodes on loopback

Tests take these through fixtures (tests/broker.py, tests/redis_server.py,
tests/redis_cluster.py); benchmarks and the simulator import them directly.
"""
