# Locust + kazoo (gevent) doing zk-locust's get, for `make bench` (scripts/bench/bench.sh):
# each user opens one session, picks one of 128 shared keys /kl/c-NNNNNN (created with an
# 8-byte value if missing) and reads it in a loop, recording request type "get", name "get".
#   locust -f scripts/bench/locustfile_zk.py --headless -u 64 -r 1000 -t 10s -H zk://HOST:PORT Get
import random
import time

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError
from kazoo.handlers.gevent import SequentialGeventHandler
from locust import User, constant, task


class Get(User):
    wait_time = constant(0)

    def on_start(self):
        hosts = self.host.split("://", 1)[-1]
        self.zk = KazooClient(hosts=hosts, handler=SequentialGeventHandler())
        self.zk.start()
        self.zk.ensure_path("/kl")
        self.key = "/kl/c-%06d" % random.randrange(128)
        try:
            self.zk.create(self.key, b"12345678")
        except NodeExistsError:
            pass

    def on_stop(self):
        self.zk.stop()
        self.zk.close()

    @task
    def get(self):
        t0 = time.perf_counter()
        exc, n = None, 0
        try:
            data, _ = self.zk.get(self.key)
            n = len(data)
        except Exception as e:  # noqa: BLE001 - recorded as a failure, as zk-locust does
            exc = e
        self.environment.events.request.fire(
            request_type="get", name="get", response_time=(time.perf_counter() - t0) * 1000,
            response_length=n, exception=exc, context={})
