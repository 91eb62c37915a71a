#!/usr/bin/env python3
"""A sign-up flood against a running sitga, for docs/security.md.

    scripts/signup-flood.py http://127.0.0.1:8080 PID [COUNT]

Sends COUNT (default 200) sign-ups at once from this address, with one login
in the middle, samples the server's RSS (PID) every 20 ms and prints the
answers, the RSS before, at the peak and after, and how long the login took.
Run it twice against one process to see whether memory keeps growing.
"""
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request

base, pid = sys.argv[1], int(sys.argv[2])
count = int(sys.argv[3]) if len(sys.argv) > 3 else 200
tag = f"{os.getpid()}"


def rss_mib():
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    return 0


def post(path, body):
    request = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    started = time.time()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, time.time() - started
    except urllib.error.HTTPError as error:
        return error.code, time.time() - started


password = "correct horse"
alice = {"email": f"alice{tag}@example.com", "password": password, "nickname": f"alice{tag}", "name": "A"}
post("/api/v1/auth/signup", alice)
before = rss_mib()
statuses, samples = {}, [before]
lock, done = threading.Lock(), threading.Event()


def sign_up(n):
    body = {"email": f"f{n}-{tag}@example.com", "password": password, "nickname": f"f{n}x{tag}", "name": "F"}
    status, _ = post("/api/v1/auth/signup", body)
    with lock:
        statuses[status] = statuses.get(status, 0) + 1


def sample():
    while not done.is_set():
        samples.append(rss_mib())
        time.sleep(0.02)


threading.Thread(target=sample, daemon=True).start()
threads = [threading.Thread(target=sign_up, args=(n,)) for n in range(count)]
started = time.time()
for thread in threads:
    thread.start()
login = post("/api/v1/auth/login", {"email": alice["email"], "password": password})
for thread in threads:
    thread.join()
done.set()
print(json.dumps({
    "answers": statuses,
    "seconds": round(time.time() - started, 2),
    "rss_mib": {"before": before, "peak": max(samples), "after": rss_mib()},
    "login": {"status": login[0], "seconds": round(login[1], 3)},
}))
