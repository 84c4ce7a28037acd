# Locust users for `make bench` (scripts/bench/bench.sh): GET / as fast as the target
# answers, no wait, one connection per user. Run one class per process:
#   locust -f scripts/bench/locustfile_http.py --headless -u 50 -r 1000 -t 10s -H URL FastHttp
from locust import FastHttpUser, HttpUser, constant, task


class FastHttp(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/")


class Http(HttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/")
