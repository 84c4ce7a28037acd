# Locust + kazoo (gevent) doing zk-locust's get and set, for `make bench`
# (scripts/bench/bench.sh). Each user opens one session and picks one of 128 shared keys
# /kl/c-NNNNNN, creating it if missing with a value of BENCH_ZK_SIZE printable bytes
# (default 8; an existing key keeps its value, as in zk-locust and zkload), then
#   Get: reads the key in a loop (request type "get", name "get");
#   Set: rewrites the key with that same value at any version (-1) in a loop (request
#        type "set", name "set").
# kazoo's calls are synchronous per greenlet, so each user has one request in flight.
#   BENCH_ZK_SIZE=1024 locust -f scripts/bench/locustfile_zk.py --headless -u 64 -r 1000 -t 10s -H zk://HOST:PORT Set
import os
import random
import time

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError
from kazoo.handlers.gevent import SequentialGeventHandler
from locust import User, constant, task

KEY_SPACE = 128


def _size():
    s = os.environ.get("BENCH_ZK_SIZE", "8")
    try:
        n = int(s)
    except ValueError:
        n = -1
    if not 0 <= n <= 1 << 20:
        raise SystemExit('locustfile_zk.py: BENCH_ZK_SIZE="%s": want 0 to 1048576 bytes' % s)
    return n


SIZE = _size()


class _ZK(User):
    abstract = True
    wait_time = constant(0)

    def on_start(self):
        hosts = self.host.split("://", 1)[-1]
        self.zk = KazooClient(hosts=hosts, handler=SequentialGeventHandler())
        self.zk.start()
        self.zk.ensure_path("/kl")
        self.key = "/kl/c-%06d" % random.randrange(KEY_SPACE)
        self.value = bytes(random.randint(32, 127) for _ in range(SIZE))
        try:
            self.zk.create(self.key, self.value)
        except NodeExistsError:
            pass

    def on_stop(self):
        self.zk.stop()
        self.zk.close()

    def _timed(self, kind, call):
        t0 = time.perf_counter()
        exc, n = None, 0
        try:
            n = call()
        except Exception as e:  # noqa: BLE001 - recorded as a failure, as zk-locust does
            exc = e
        self.environment.events.request.fire(
            request_type=kind, name=kind, response_time=(time.perf_counter() - t0) * 1000,
            response_length=n, exception=exc, context={})


class Get(_ZK):
    @task
    def get(self):
        self._timed("get", self._get)

    def _get(self):
        data, _ = self.zk.get(self.key)
        return len(data)


class Set(_ZK):
    @task
    def set(self):
        self._timed("set", self._set)

    def _set(self):
        self.zk.set(self.key, self.value, -1)
        return 0
